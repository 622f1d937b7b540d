package guard

import (
	"context"
	"testing"
)

// The request of the gateway benchmark (bench/gateway): a system persona and
// a user turn of meeting notes, about 1 KB. Its mock upstream echoes the
// last user message, so the answer is the same notes.
const (
	benchPersona = "You are a concise, helpful assistant."
	benchNotes   = "Summarise these meeting notes in three bullet points:\nAttendees: Ana, Ben, Chloe, Dev. " +
		"Ben will send the Q3 budget draft by Friday; finance wants the travel line cut by ten percent and the contractor line kept flat. " +
		"We agreed to move the launch to 14 October because the payment provider needs another week of testing, and support asked for two days of overlap with the old checkout. " +
		"Chloe owns the customer email and will share a draft on Wednesday; legal must review the refund wording before it goes out. " +
		"Dev reported that the staging database ran out of disk twice last week; he will add an alert at 80 percent and move the nightly export to the new bucket. " +
		"Open questions: who signs off the pricing page, whether the beta users keep their discount, and when the mobile release follows. " +
		"Next meeting Thursday at 10:00 in the small room; Ana sends the agenda the day before."
)

// BenchmarkCheckChat is the guard's work for one request of the gateway
// benchmark: the prompt (persona and notes) and the answer, as the gateway
// judges them. The per-stage budget in docs/benchmarks.md measures the same
// two checks inside the running binary.
func BenchmarkCheckChat(b *testing.B) {
	g := newTestGuard(b)
	ctx := context.Background()
	prompt := []Part{{Role: "system", Text: benchPersona}, {Role: "user", Text: benchNotes}}
	answer := []Part{{Role: "assistant", Text: benchNotes}}
	b.ReportAllocs()
	for b.Loop() {
		if r := g.Check(ctx, StagePrompt, prompt, nil); r.Action != Allow {
			b.Fatalf("prompt: %s %v", r.Action, r.Triggered)
		}
		if r := g.Check(ctx, StageAnswer, answer, nil); r.Action != Allow {
			b.Fatalf("answer: %s %v", r.Action, r.Triggered)
		}
	}
}
