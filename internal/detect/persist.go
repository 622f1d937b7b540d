// Persistence: flushing profiles and incidents to the store.

package detect

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/incident"
	"github.com/wardenhq/warden/internal/store"
)

// Risk returns the current risk of a key at time now, for status displays.
func (d *Detector) Risk(keyID string, now time.Time) float64 {
	sh := d.shard(keyID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	p := sh.m[keyID]
	if p == nil {
		return 0
	}
	return d.riskAtLocked(p, now.UnixNano())
}

// Flush writes changed profiles and open incidents to the store. Call it
// periodically (see Run) and before exit.
func (d *Detector) Flush(ctx context.Context) error {
	if d.opt.Store == nil {
		return nil
	}
	var errs []error
	for i := range d.shards {
		sh := &d.shards[i]
		var (
			ps   []store.Profile
			incs []*incident.Incident
		)
		sh.mu.Lock()
		for _, p := range sh.m {
			if !p.dirty {
				continue
			}
			b, err := p.encode()
			if err != nil {
				errs = append(errs, err)
				continue
			}
			ps = append(ps, store.Profile{KeyID: p.KeyID, Data: b, UpdatedAt: time.Unix(0, p.Last).UTC()})
			if p.inc != nil {
				incs = append(incs, cloneIncident(p.inc))
			}
			p.dirty = false
		}
		sh.mu.Unlock()
		slices.SortFunc(ps, func(a, b store.Profile) int { return strings.Compare(a.KeyID, b.KeyID) })
		if err := d.opt.Store.PutProfiles(ctx, ps); err != nil {
			errs = append(errs, err)
		}
		for _, in := range incs {
			if in == nil {
				continue
			}
			err := d.opt.Store.PutIncident(ctx, in)
			switch {
			case errors.Is(err, store.ErrConflict):
				d.forgetIncident(in.KeyID, in.ID)
			case err != nil:
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Run flushes every interval until ctx ends, then once more.
func (d *Detector) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := d.Flush(context.WithoutCancel(ctx)); err != nil {
				d.log.Error("detect: final flush", "err", err)
			}
			return
		case <-t.C:
			if err := d.Flush(ctx); err != nil {
				d.log.Error("detect: flush", "err", err)
			}
		}
	}
}
