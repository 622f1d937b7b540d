package gateway

import (
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/provider"
)

// Bodies for the inspection benchmarks: a short chat turn, and an agent
// request with a 16 KB retrieved document, tools and history. Documents and
// answers have line breaks, as real ones do: escapes in a long string are
// the checker's slow path.
var (
	benchShort = []byte(`{"model":"mock-echo","max_tokens":64,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Summarise the plot of Hamlet in one sentence, please."}]}`)
	benchRAG   = []byte(`{"model":"mock-echo","temperature":0.2,"stream":true,"messages":[{"role":"system","content":"You are Ava, the booking assistant of Example Air. Answer from the documents only."},` +
		`{"role":"user","content":"What is the baggage allowance?"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"search","arguments":"{\"q\":\"baggage allowance\"}"}}]},` +
		`{"role":"tool","tool_call_id":"c1","content":"` + strings.Repeat(`Economy passengers may bring one cabin bag of up to 8 kg and one checked bag of up to 23 kg.\n`, 180) + `"},` +
		`{"role":"user","content":[{"type":"text","text":"And for business class?"}]}],` +
		`"tools":[{"type":"function","function":{"name":"search","description":"Search the airline's documents.","parameters":{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}}}]}`)
	benchAnswer = []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"` +
		strings.Repeat(`Business class passengers may bring two cabin bags and two checked bags of up to 32 kg each.\n`, 20) + `","refusal":null}}],"usage":{"prompt_tokens":4200,"completion_tokens":380,"total_tokens":4580}}`)
)

// BenchmarkInspectRequest is everything Warden does with a request body
// between reading it and sending it upstream: parse, the guard's texts,
// features, and the body to forward.
func BenchmarkInspectRequest(b *testing.B) {
	for _, tc := range []struct {
		name string
		body []byte
	}{{"short", benchShort}, {"rag16k", benchRAG}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.body)))
			for range b.N {
				inspectForBench(b, provider.ChatCompletions, tc.body)
			}
		})
	}
}

// BenchmarkInspectAnswer is what Warden does with a whole answer before it
// relays it: the guard's texts and the usage.
func BenchmarkInspectAnswer(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchAnswer)))
	for range b.N {
		inspectAnswerForBench(b, benchAnswer)
	}
}

func inspectForBench(b *testing.B, e provider.Endpoint, raw []byte) {
	body, apiErr := parseBody(e, raw)
	if apiErr != nil || len(body.parts) == 0 {
		b.Fatal(apiErr)
	}
	if out, _ := body.rewrite(e, "up", "warden-u"); len(out) == 0 {
		b.Fatal("empty")
	}
}

func inspectAnswerForBench(b *testing.B, raw []byte) {
	a, err := parseAnswer(raw)
	if err != nil || a.Usage == nil || len(a.Parts()) == 0 {
		b.Fatal(err)
	}
}

// BenchmarkCheckIJSON is the I-JSON check alone.
func BenchmarkCheckIJSON(b *testing.B) {
	for _, tc := range []struct {
		name string
		body []byte
		sc   *schema
	}{{"request-rag16k", benchRAG, requestSchema}, {"answer", benchAnswer, answerSchema}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.body)))
			for range b.N {
				if err := checkIJSON(tc.body, tc.sc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
