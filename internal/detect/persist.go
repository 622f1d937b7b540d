// Persistence: flushing profiles and incidents to the store.

package detect

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/clock"
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
func (d *Detector) Flush(ctx context.Context) error { return d.FlushKeys(ctx, nil) }

// FlushKeys is Flush for the keys match accepts (nil: all). A cluster
// flushes the keys of one partition before handing it to another instance,
// and one key before its decision goes out, so that other instances read
// what this one learned.
func (d *Detector) FlushKeys(ctx context.Context, match func(keyID string) bool) error {
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
			if !p.dirty || (match != nil && !match(p.KeyID)) {
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

// Forget drops from memory the profiles of the keys match accepts, except
// those changed since the last flush (flush them first). The next event or
// step-up check of a forgotten key loads it from the store again: a cluster
// forgets a partition's keys when it hands the partition over or takes it
// on, so no instance goes on with a copy older than the owner's.
func (d *Detector) Forget(match func(keyID string) bool) (kept int) {
	for i := range d.shards {
		sh := &d.shards[i]
		sh.mu.Lock()
		for id, p := range sh.m {
			if !match(id) {
				continue
			}
			if p.dirty {
				kept++
				continue
			}
			delete(sh.m, id)
		}
		sh.mu.Unlock()
	}
	return kept
}

// Run flushes every interval until ctx ends, then once more.
func (d *Detector) Run(ctx context.Context, interval time.Duration) {
	clock.Every(interval, ctx.Done(), func() {
		if err := d.Flush(ctx); err != nil {
			d.log.Error("detect: flush", "err", err)
		}
	})
	if err := d.Flush(context.WithoutCancel(ctx)); err != nil {
		d.log.Error("detect: final flush", "err", err)
	}
}
