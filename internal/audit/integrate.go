package audit

import (
	"context"
	"errors"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/store"
)

// Integration, on stores with staging (store.AuditStaging: PostgreSQL, and
// SQLite's journal). Every Log stages its group commits and answers its
// appenders; every Log
// also runs an integrator loop, but the store's lease lets one integrate at
// a time, and the holder integrates whatever is staged, its own entries or
// not. Answers never wait for integration (only checkpoints and Sync do),
// so the loop is paced: woken by its own commits, it integrates at most
// once per integratePace (more often only while passes move full batches),
// and each pass moves what accumulated meanwhile, from every instance, in
// one transaction. Without the pace, a holder under a steady load would run
// one small transaction after another and cost the database more than the
// appends themselves. A loop that finds the lease taken leaves the work to
// the holder; the idle tick covers entries staged just after the holder's
// last pass, and a holder that died. On PostgreSQL the lease is sticky: the
// instance that integrated last keeps it while it renews it, so the others
// look again only every integrateYield and one instance integrates everyone's
// entries in whole batches with the tree's peaks in its memory (when all took
// the lease in turn, each pass moved a third of the batch and read the peaks
// back first).
const (
	// integrateBatch is the most entries one integration transaction moves.
	integrateBatch = 4096
	// integratePace is the least time between two passes of one loop.
	integratePace = 25 * time.Millisecond
	// integrateEvery is how often an idle loop looks for entries others
	// staged (and, on PostgreSQL, renews its lease).
	integrateEvery = 100 * time.Millisecond
	// integrateYield is how long a loop that found the lease with another
	// instance waits before it looks again.
	integrateYield = 500 * time.Millisecond
)

// kickIntegrator wakes this log's integrator without waiting.
func (l *Log) kickIntegrator() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// integrateLoop runs until integStop closes.
func (l *Log) integrateLoop() {
	defer close(l.integDone)
	tick := time.NewTicker(integrateEvery)
	defer tick.Stop()
	pace := time.NewTimer(0)
	defer pace.Stop()
	for {
		select {
		case <-l.integStop:
			return
		case <-l.kick:
		case <-tick.C:
		}
		select { // the rest of the pace since the last pass
		case <-l.integStop:
			return
		case <-pace.C:
		}
		err := l.integrateAll()
		wait := integratePace
		switch {
		case errors.Is(err, store.ErrConflict):
			// Another instance holds the lease and integrates
			// everyone's entries: look again only after
			// integrateYield, however often this log's commits kick.
			wait = integrateYield
		case err != nil:
			l.logger.Error("audit: integration failed; the entries stay staged", "err", err)
		}
		pace.Reset(wait)
	}
}

// Sync integrates the entries staged so far (by any instance), waiting for
// the integration lease if another instance holds it. It moves at most as
// many batches as were staged when it started (plus one), so it ends under
// a sustained load too. On a store without staging it does nothing: appends
// there are in the log when they return.
func (l *Log) Sync(ctx context.Context) error {
	if l.staging == nil {
		return nil
	}
	staged, err := l.staging.AuditStaged(ctx)
	if err != nil {
		return err
	}
	for moved := int64(0); moved <= staged; {
		n, err := l.integrate(ctx, true)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		moved += int64(n)
	}
	return nil
}

// integrateAll integrates without waiting for the lease, pass after pass
// while passes move full batches (a backlog), until the log closes. Each
// pass has its own deadline.
func (l *Log) integrateAll() error {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
		n, err := l.integrate(ctx, false)
		cancel()
		if err != nil || n < integrateBatch {
			return err
		}
		select {
		case <-l.integStop:
			return nil
		default:
		}
	}
}

// integrate moves one batch of staged entries to the log's end and returns
// how many it moved. The tree's peaks are cached between batches; when
// another instance integrated since, they are read back from the store.
func (l *Log) integrate(ctx context.Context, wait bool) (int, error) {
	var work map[int64]tlog.Hash
	start, n, err := l.staging.IntegrateAudit(ctx, integrateBatch, wait, func(start int64, entries []store.AuditEntry, read func([]int64) ([]tlog.Hash, error)) ([]tlog.Hash, error) {
		l.stateMu.Lock()
		size, peaks := l.size, l.peaks
		l.stateMu.Unlock()
		if start != size {
			var err error
			if peaks, err = readPeaks(start, read); err != nil {
				return nil, err
			}
		}
		leafHashes := make([]tlog.Hash, len(entries))
		for i := range entries {
			leafHashes[i] = tlog.RecordHash(entries[i].Leaf)
		}
		var hs []tlog.Hash
		var err error
		work, hs, err = storedHashesFor(start, peaks, leafHashes)
		if err != nil {
			return nil, err
		}
		return hs, nil
	})
	if err != nil || n == 0 {
		return 0, err
	}
	end := start + int64(n)
	l.stateMu.Lock()
	l.size = end
	l.peaks = keepPeaks(work, end)
	l.stateMu.Unlock()
	l.integrated.Add(int64(n))
	l.integrations.Add(1)
	return n, nil
}
