package simulate_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/detect"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/record"
	"github.com/wardenhq/warden/internal/replay"
	"github.com/wardenhq/warden/internal/simulate"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

// TestScenarioThroughGateway replays simulated traffic through the real
// gateway (mock provider) instead of the offline pipeline.
func TestScenarioThroughGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	ctx := context.Background()
	recs, err := simulate.Generate(simulate.Options{Seed: 1, Days: 2, Scale: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := record.NewWriter(&buf)
	for _, r := range recs {
		w.Write(r)
	}
	db, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg := config.Default()
	cfg.Providers = []config.Provider{{Name: "mock", Type: "mock"}}
	for _, m := range replay.Models(recs) {
		kind := "chat"
		if strings.Contains(m, "dall-e") {
			kind = "image"
		}
		cfg.Models = append(cfg.Models, config.Model{Name: m, Provider: "mock", Kind: kind})
	}
	sc := simulate.NewScorer()
	drv := &replay.Driver{Observer: replay.Observer{Request: sc.Request, Decision: sc.Decision}, Errors: func(int, error) {}}
	det, err := detect.New(detect.Config{}, detect.Options{Keys: db, Store: db, OnDecision: drv.OnDecision})
	if err != nil {
		t.Fatal(err)
	}
	gwp := &replay.Gateway{Keys: db, Salt: []byte("test-salt")}
	bus := &event.Bus{}
	bus.AddSync(det)
	bus.AddSync(gwp)
	gw, err := gateway.New(gateway.Options{Config: cfg, Store: db, Bus: bus, PseudonymKey: []byte("p"), StepUp: det.AllowsStepUp})
	if err != nil {
		t.Fatal(err)
	}
	gwp.ServeAt = gw.ServeAt
	drv.Pipeline = gwp
	n, err := drv.Run(ctx, &buf)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d records through the gateway", n)
	rep := sc.Report()
	rep.Print(os.Stderr)
	if len(rep.LegitKeysContained) > 0 {
		t.Errorf("legitimate keys contained: %v", rep.LegitKeysContained)
	}
}
