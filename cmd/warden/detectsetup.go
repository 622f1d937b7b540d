package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/wardenhq/warden/internal/alert"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/detect"
	"github.com/wardenhq/warden/internal/store"
)

// detection is the detector of a running server and where its decisions go.
type detection struct {
	d     *detect.Detector
	disp  *alert.Dispatcher
	apply func(ctx context.Context, keyID string) // makes a decision hold at once (the gateway's key cache)
}

// newDetection provisions the detector: its profiles and incidents live in
// raw, its decisions change keys through st, are sent to the alert sinks,
// and take effect on the next request through apply (set once the gateway
// exists).
func newDetection(cfg *config.Config, st store.Keys, raw store.Store) (*detection, error) {
	ds, ok := raw.(store.Detect)
	if !ok {
		return nil, fmt.Errorf("detect: the %T store keeps no profiles or incidents", raw)
	}
	disp, err := alert.New(cfg.Detect.Alerts, os.Getenv, slog.Default())
	if err != nil {
		return nil, fmt.Errorf("detect: alerts: %w", err)
	}
	dt := &detection{disp: disp}
	dt.d, err = detect.New(cfg.Detect, detect.Options{Keys: st, Store: ds, OnDecision: func(ctx context.Context, x detect.Decision) {
		if x.Type() == "action" && dt.apply != nil {
			dt.apply(ctx, x.KeyID)
		}
		disp.Notify(x.Alert())
	}})
	if err != nil {
		disp.Close()
		return nil, fmt.Errorf("detect: %w", err)
	}
	return dt, nil
}

// close saves profiles and incidents and drains the alert queue.
func (dt *detection) close(ctx context.Context) {
	if err := dt.d.Flush(ctx); err != nil {
		slog.Error("detect: cannot save profiles and incidents", "err", err)
	}
	dt.disp.Close()
}
