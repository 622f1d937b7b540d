package guard

import (
	"context"
	"os"
	"testing"
)

// TestValidationReport prints the guard's results on the held-out validation
// split written by the training command (go run ./internal/guard/train). Run
// with -v to see the table recorded in docs/guard-model-card.md.
func TestValidationReport(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	zr := openVal(t)
	g, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := g.Eval(context.Background(), zr, StagePrompt, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep.WriteText(os.Stdout)
}
