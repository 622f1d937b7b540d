package replay

import (
	"context"
	"fmt"
	"io"

	"github.com/wardenhq/warden/internal/detect"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/store"
)

// Store is what an offline replay needs of a backend.
type Store interface {
	store.Keys
	store.Detect
}

// Setup describes an offline replay.
type Setup struct {
	Store    Store
	Config   detect.Config
	Out      io.Writer // JSONL output; nil: none
	Observer Observer
	Errors   func(line int, err error) // nil: a malformed line stops the run
	// OnDecision also receives every decision (e.g. alert sinks); optional.
	OnDecision func(ctx context.Context, d detect.Decision)
}

// RunOffline replays in through the Offline pipeline with a fresh detector
// on s.Store, flushes the detector's state and returns it.
func RunOffline(ctx context.Context, s Setup, in io.Reader) (int, *detect.Detector, error) {
	drv := &Driver{Out: s.Out, Observer: s.Observer, Errors: s.Errors}
	det, err := detect.New(s.Config, detect.Options{Keys: s.Store, Store: s.Store, OnDecision: func(ctx context.Context, d detect.Decision) {
		drv.OnDecision(ctx, d)
		if s.OnDecision != nil {
			s.OnDecision(ctx, d)
		}
	}})
	if err != nil {
		return 0, nil, err
	}
	bus := &event.Bus{}
	bus.AddSync(det)
	drv.Pipeline = &Offline{Keys: s.Store, Bus: bus, StepUp: det.StepUpAllows}
	n, err := drv.Run(ctx, in)
	if ferr := det.Flush(context.WithoutCancel(ctx)); ferr != nil && err == nil {
		err = fmt.Errorf("replay: saving detector state: %w", ferr)
	}
	return n, det, err
}
