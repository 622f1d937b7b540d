package event

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// trickyStrings are what the string escaping must get right: HTML
// characters, control characters, invalid UTF-8, line and paragraph
// separators, and plain text.
var trickyStrings = []string{
	"", "k_0001", "OpenAI/Python 1.54.0", `a "quoted" \ path`, "<script>&amp;</script>",
	"line\nbreak\ttab\rret\bbell\fform", "\x00\x01\x1f\x7f", "caf\xc3\xa9 \xe2\x80\xa8 \xe2\x80\xa9",
	"bad \xff\xfe utf8 \xc3", "emoji \U0001F600", "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
}

var trickyFloats = []float64{0, 0.7, 1, -2.5, 1e-7, 1.5e-9, 1e20, 1e21, 1.23e25, 0.000001, 123456.789, math.SmallestNonzeroFloat64, math.MaxFloat64}

// fill sets v (addressable) to random values, reaching every field of
// every struct: a field that AppendJSON does not write then shows up as a
// difference from json.Marshal.
func fill(rng *rand.Rand, v reflect.Value, empty bool) {
	if empty && rng.IntN(3) == 0 {
		v.SetZero()
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(trickyStrings[rng.IntN(len(trickyStrings))])
	case reflect.Int, reflect.Int64:
		v.SetInt([]int64{0, 1, -1, 200, 1 << 40, math.MinInt64, math.MaxInt64}[rng.IntN(7)])
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Float64:
		v.SetFloat(trickyFloats[rng.IntN(len(trickyFloats))] * float64(1-2*rng.IntN(2)))
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(rng, p.Elem(), false)
		v.Set(p)
	case reflect.Slice:
		n := rng.IntN(4)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fill(rng, s.Index(i), true)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for range rng.IntN(5) {
			k := reflect.New(v.Type().Key()).Elem()
			fill(rng, k, false)
			e := reflect.New(v.Type().Elem()).Elem()
			fill(rng, e, false)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			zones := []*time.Location{time.UTC, time.FixedZone("", 5*3600+1800), time.FixedZone("", -7*3600)}
			t := time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)*int64(rng.IntN(2))).In(zones[rng.IntN(len(zones))])
			v.Set(reflect.ValueOf(t))
			return
		}
		for i := range v.NumField() {
			fill(rng, v.Field(i), true)
		}
	default:
		panic("event test: fill does not know " + v.Type().String())
	}
}

// TestAppendJSONMatchesMarshal compares AppendJSON with json.Marshal on
// random events that set every field, on the zero event and on the errors
// json.Marshal reports.
func TestAppendJSONMatchesMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	events := []*Event{{}}
	for range 20000 {
		e := new(Event)
		fill(rng, reflect.ValueOf(e).Elem(), true)
		events = append(events, e)
	}
	prefix := []byte("prefix:")
	for _, e := range events {
		want, werr := json.Marshal(e)
		got, gerr := e.AppendJSON(bytes.Clone(prefix))
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("json.Marshal error %v, AppendJSON error %v, for %+v", werr, gerr, e)
		}
		if werr != nil {
			if !bytes.Equal(got, prefix) {
				t.Fatalf("AppendJSON failed (%v) but extended the buffer: %q", gerr, got)
			}
			continue
		}
		if !bytes.Equal(got[len(prefix):], want) || !bytes.Equal(got[:len(prefix)], prefix) {
			t.Fatalf("AppendJSON differs from json.Marshal (a field of Event not written as encoding/json does?)\n got: %s\nwant: %s", got[len(prefix):], want)
		}
	}
}

// TestAppendJSONErrors: the values json.Marshal refuses are refused.
func TestAppendJSONErrors(t *testing.T) {
	nan := math.NaN()
	for name, e := range map[string]*Event{
		"NaN cost":        {CostUSD: nan},
		"infinite score":  {Guard: []Verdict{{Scores: map[string]float64{"x": math.Inf(1)}}}},
		"NaN temperature": {Features: Features{Temperature: &nan}},
		"year 10000":      {Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if _, err := json.Marshal(e); err == nil {
			t.Fatalf("%s: json.Marshal accepts it; the test is wrong", name)
		}
		if _, err := e.AppendJSON(nil); err == nil {
			t.Errorf("%s: AppendJSON accepted it", name)
		}
	}
}

func FuzzAppendJSON(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s, 0.5)
	}
	f.Fuzz(func(t *testing.T, s string, x float64) {
		e := &Event{ID: s, Path: s, Client: Client{UserAgent: s, HeaderNames: []string{s}}, CostUSD: x,
			Guard: []Verdict{{Stage: s, Scores: map[string]float64{s: x, "b": 1}}}}
		want, werr := json.Marshal(e)
		got, gerr := e.AppendJSON(nil)
		if (werr != nil) != (gerr != nil) || !bytes.Equal(got, want) && werr == nil {
			t.Fatalf("got %s (%v), want %s (%v)", got, gerr, want, werr)
		}
	})
}

// BenchmarkAppendJSON is a gateway request's event (an allowed chat
// completion), encoded by AppendJSON and by json.Marshal.
func BenchmarkAppendJSON(b *testing.B) {
	temp := 0.7
	e := &Event{ID: "req_30bdd2d71", Time: time.Date(2026, 12, 7, 1, 2, 3, 456789000, time.UTC), Duration: 1234567,
		KeyID: "k_7k5OOW18abc", KeyOwner: "team-a", KeyKind: "standard", AuthMethod: "bearer", ClientIP: "203.0.113.7",
		Client: Client{UserAgent: "OpenAI/Python 1.54.0", HeaderNames: []string{"host", "accept-encoding", "connection", "accept",
			"content-type", "user-agent", "x-stainless-lang", "x-stainless-package-version", "authorization", "content-length"},
			SDKHeaders: true, SDKLang: "python", SDKVersion: "1.54.0"},
		Fingerprint: "fp_1234567890abcdef", Method: "POST", Path: "/v1/chat/completions", Style: "openai", Endpoint: "chat.completions",
		Model: "gpt-4o", Provider: "azure-east", Upstream: "gpt-4o", RequestLen: 1200,
		Features: Features{MaxTokens: 200, Temperature: &temp, Messages: 2, PromptChars: 1100, ConvRoot: "c_abcdef0123456789", SystemHash: "s_abcdef0123456789"},
		Status:   200, ResponseLen: 900, FinishReason: "stop", UpstreamTime: 200000, Attempts: 1,
		Tries: []Try{{Deployment: "azure-east/gpt-4o", Status: 200}}, PromptTokens: 280, CompletionTokens: 200, CostUSD: 0.00068}
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = e.AppendJSON(buf[:0])
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			json.Marshal(e)
		}
	})
}
