package simulate_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/wardenhq/warden/internal/record"
	"github.com/wardenhq/warden/internal/replay"
	"github.com/wardenhq/warden/internal/simulate"
	"github.com/wardenhq/warden/internal/store/sqlite"
	"github.com/wardenhq/warden/internal/warden"
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

// TestScenario replays simulated days through the whole pipeline (package
// warden: gateway, guard, detector, audit log) and checks the goals of the
// issue.
// It takes a few seconds; -short skips it.
func TestScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	recs, err := simulate.Generate(simulate.Options{Seed: 1, Days: 3})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := record.NewWriter(&buf)
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sc := simulate.NewScorer()
	var out bytes.Buffer
	n, err := warden.Replay(context.Background(), warden.ReplayOptions{Store: db, Data: dir, Salt: []byte("test-salt"),
		PseudonymKey: []byte("p"), Out: &out, Observer: replay.Observer{Request: sc.Request, Decision: sc.Decision}}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	dumpDecisions(&out)
	rep := sc.Report()
	t.Logf("%d records", n)
	rep.Print(os.Stderr)
	if len(rep.LegitKeysContained) > 0 {
		t.Errorf("legitimate keys contained: %v", rep.LegitKeysContained)
	}
	for _, p := range rep.Phases {
		if p.Undetected > 0 {
			t.Errorf("phase %s: %d keys undetected", p.Phase, p.Undetected)
		}
	}
}

func init() {
	dumpDecisions = func(out *bytes.Buffer) {
		if os.Getenv("SIM_DUMP") == "" {
			return
		}
		for _, l := range bytes.Split(out.Bytes(), []byte("\n")) {
			if bytes.Contains(l, []byte(`"type":"alert"`)) || bytes.Contains(l, []byte(`"type":"action"`)) {
				os.Stderr.Write(append(l, '\n'))
			}
		}
	}
}

var dumpDecisions func(*bytes.Buffer)

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
