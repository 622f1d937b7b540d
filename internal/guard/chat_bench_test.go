package guard

import (
	"context"
	"testing"

	"github.com/wardenhq/warden/internal/workload"
)

// BenchmarkCheckChat is the guard's work for one request of the gateway
// benchmark: the prompt (persona and notes) and the answer, as the gateway
// judges them. The per-stage budget in docs/benchmarks.md measures the same
// two checks inside the running binary.
func BenchmarkCheckChat(b *testing.B) {
	g := newTestGuard(b)
	ctx := context.Background()
	prompt := []Part{{Role: "system", Text: workload.Persona}, {Role: "user", Text: workload.Notes}}
	answer := []Part{{Role: "assistant", Text: workload.Notes}} // the mock echoes the notes
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
