package warden

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/clock"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/provider/mock"
	"github.com/wardenhq/warden/internal/record"
	"github.com/wardenhq/warden/internal/replay"
	"github.com/wardenhq/warden/internal/store"
)

// ReplayOptions describe a replay. Store is required.
type ReplayOptions struct {
	// Config is the server configuration to replay under (guard, detector
	// and audit policy, limits); nil: the defaults. Its providers are
	// replaced by the mock, which answers every model it or the records
	// name; its events file and recorder are ignored.
	Config *config.Config
	Store  store.Store
	// Data is the data directory (the audit log's signing key, token
	// keys); it overrides Config.Data.
	Data string
	// Salt derives the secrets of key_id records' keys (replay.Secret).
	Salt []byte
	// PseudonymKey as in Options.
	PseudonymKey []byte
	// Out receives the JSONL output; nil: none.
	Out      io.Writer
	Observer replay.Observer
	// Errors receives malformed lines; nil: a malformed line stops the run.
	Errors func(line int, err error)
}

// maxReplayInput bounds what Replay reads into memory.
const maxReplayInput = 4 << 30

// Replay runs the records of in through a Warden built by New, the same
// as `warden serve` builds, on a virtual clock set to each record's time:
// keys, limits, the guard, the detector, the audit log and the mock
// upstream. It returns the number of records replayed. The detector's
// state is saved and usage flushed before it returns.
func Replay(ctx context.Context, o ReplayOptions, in io.Reader) (int, error) {
	if o.Store == nil {
		return 0, errors.New("warden: replay needs a store")
	}
	// The mock must answer every model the records name, so the input is
	// parsed up front, once.
	items, err := replay.Read(io.LimitReader(in, maxReplayInput))
	if err != nil {
		return 0, fmt.Errorf("warden: %w", err)
	}
	var recs []*record.Record
	for _, it := range items {
		if it.Err == nil {
			recs = append(recs, it.Rec)
		}
	}
	base := o.Config
	if base == nil {
		base = config.Default()
	}
	cfg := ReplayConfig(base, replay.Models(recs))
	if o.Data != "" {
		cfg.Data = o.Data
	}
	var t0 time.Time // parts that read the clock while the Warden is built see event time too
	if len(recs) > 0 {
		t0 = recs[0].TS
	}

	drv := &replay.Driver{Out: o.Out, Observer: o.Observer, Errors: o.Errors}
	vc := clock.NewVirtual(t0)
	w, err := New(ctx, Options{Config: cfg, Store: o.Store, Clock: vc, PseudonymKey: o.PseudonymKey,
		OnDecision: drv.OnDecision, NoAlerts: true})
	if err != nil {
		return 0, err
	}
	gwp := &replay.Gateway{Handler: w.Gateway, Clock: vc, Keys: w.Keys, Salt: o.Salt}
	w.Bus.Subscribe("replay", gwp, event.Sync)
	drv.Pipeline = gwp
	n, err := drv.RunItems(ctx, items)
	if cerr := w.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return n, err
}

// ReplayConfig returns a copy of base that sends every model to the mock
// provider: base's models, the mock's own when base has no providers, and
// every name in models, each answered by the mock model of its kind
// (mock-lorem for chat and embeddings, whose answers are neutral text, and
// mock-image). The events file and the recorder are off.
func ReplayConfig(base *config.Config, models []string) *config.Config {
	c := *base
	c.Events, c.Record = "", ""
	c.Providers = []config.Provider{{Name: "mock", Type: "mock"}}
	c.Models = nil
	seen := map[string]bool{}
	add := func(m config.Model) {
		if seen[m.Name] {
			return
		}
		seen[m.Name] = true
		m.Provider = "mock"
		if _, ok := mock.Models[m.Name]; ok {
			m.Upstream = ""
		} else {
			m.Upstream = mockFor(m.Kind)
		}
		c.Models = append(c.Models, m)
	}
	if base.UsesMock() {
		names := make([]string, 0, len(mock.Models))
		for name := range mock.Models {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			add(config.Model{Name: name, Kind: mock.Models[name]})
		}
	}
	for _, m := range base.Models {
		add(m)
	}
	for _, name := range models {
		kind := "chat"
		switch {
		case strings.Contains(name, "dall-e") || strings.Contains(name, "image"):
			kind = "image"
		case strings.Contains(name, "embedding"):
			kind = "embedding"
		}
		add(config.Model{Name: name, Kind: kind})
	}
	return &c
}

// mockFor is the mock model that answers for a model of kind.
func mockFor(kind string) string {
	if kind == "image" {
		return "mock-image"
	}
	return "mock-lorem"
}
