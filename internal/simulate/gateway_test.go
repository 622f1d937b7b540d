package simulate_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/record"
	"github.com/wardenhq/warden/internal/replay"
	"github.com/wardenhq/warden/internal/simulate"
	"github.com/wardenhq/warden/internal/store/sqlite"
	"github.com/wardenhq/warden/internal/warden"
)

// TestScenarioThroughGateway replays simulated traffic through the real
// gateway (keys, limits, the default guard, the detector, the mock
// provider) and checks the detector's goals: no legitimate request refused
// by it, no legitimate key contained, at most 0.05 alerts per legitimate
// key-day, every attack phase detected in time, attacker spend under 1%.
// Guard refusals of legitimate requests are logged, not asserted: the guard
// has its own suite.
func TestScenarioThroughGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	rep := runThroughGateway(t, simulate.Options{Seed: 1, Days: 2, Scale: 0.5}, true)
	checkDetectorGoals(t, rep)
}

// TestDetectorWithoutGuardHelp runs the same pipeline without the guard, so
// attackers' prompts are not refused for their content: what remains is the
// detector's work. Nothing legitimate may be refused at any stage.
func TestDetectorWithoutGuardHelp(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	rep := runThroughGateway(t, simulate.Options{Seed: 1, Days: 3, Scale: 1}, false)
	checkDetectorGoals(t, rep)
	for _, k := range rep.Keys {
		for stage, n := range k.Refused {
			t.Errorf("%s: %d legitimate requests refused by %s (first: %+v)", k.KeyID, n, stage, k.Samples)
		}
	}
}

func runThroughGateway(t *testing.T, opt simulate.Options, withGuard bool) simulate.Report {
	t.Helper()
	ctx := context.Background()
	recs, err := simulate.Generate(opt)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := record.NewWriter(&buf)
	for _, r := range recs {
		w.Write(r)
	}
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg := config.Default()
	cfg.Guard.Disabled = !withGuard
	sc := simulate.NewScorer()
	n, err := warden.Replay(ctx, warden.ReplayOptions{Config: cfg, Store: db, Data: dir, Salt: []byte("test-salt"),
		PseudonymKey: []byte("p"), Observer: replay.Observer{Request: sc.Request, Decision: sc.Decision},
		Errors: func(int, error) {}}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d records through the gateway", n)
	rep := sc.Report()
	if testing.Verbose() {
		rep.Print(os.Stderr)
	}
	return rep
}

func checkDetectorGoals(t *testing.T, rep simulate.Report) {
	t.Helper()
	// The detector's share of the budget of issue 13. Guard refusals are
	// logged, not asserted here: the guard has its own suite.
	for _, v := range rep.Violations(simulate.DefaultBudget) {
		if strings.Contains(v, "refused by the guard") {
			t.Log("guard: " + v)
			continue
		}
		t.Error(v)
	}
	goals := map[string]int{simulate.PhaseProbe: 3, simulate.PhaseCanary: 1, simulate.PhaseResale: 60, simulate.PhaseLowSlow: 100}
	for _, p := range rep.Phases {
		if p.Undetected > 0 {
			t.Errorf("phase %s: %d keys undetected", p.Phase, p.Undetected)
		}
		if max, ok := goals[p.Phase]; ok && p.RequestsToDetect > max {
			t.Errorf("phase %s: detected after %d requests, goal %d", p.Phase, p.RequestsToDetect, max)
		}
		if p.Phase == simulate.PhaseResale && p.TimeToContainS > 300 {
			t.Errorf("resale contained after %.0f s, goal 5 simulated minutes", p.TimeToContainS)
		}
	}
	if rep.SpendRatio >= 0.01 {
		t.Errorf("attacker spend %.2f%% of the unstopped estimate, goal under 1%%", 100*rep.SpendRatio)
	}
}
