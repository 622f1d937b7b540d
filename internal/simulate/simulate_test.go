package simulate_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/wardenhq/warden/internal/simulate"
)

func TestDeterministicGeneration(t *testing.T) {
	a, err := simulate.Generate(simulate.Options{Seed: 7, Days: 2, Scale: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := simulate.Generate(simulate.Options{Seed: 7, Days: 2, Scale: 0.3})
	if len(a) != len(b) || len(a) < 1000 {
		t.Fatalf("lengths %d %d", len(a), len(b))
	}
	for i := range a {
		if !a[i].TS.Equal(b[i].TS) || a[i].KeyID != b[i].KeyID || !bytes.Equal(a[i].Body, b[i].Body) {
			t.Fatalf("record %d differs", i)
		}
		if i > 0 && a[i].TS.Before(a[i-1].TS) {
			t.Fatalf("record %d out of order", i)
		}
	}
}

func TestDemoAttack(t *testing.T) {
	out, err := simulate.DemoAttack(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"step_up", "Timeline", "probe", "Attacker requests served"} {
		if !bytes.Contains([]byte(out), []byte(want)) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if testing.Verbose() {
		t.Log("\n" + out)
	}
}
