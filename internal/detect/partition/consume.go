// Consuming: reading the owned partitions into the detector.

package partition

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/internal/event"
)

// maxEntry bounds one stream entry: an event is a few hundred bytes, and a
// stream entry comes from the network.
const maxEntry = 1 << 20

// readCount bounds the entries one XREAD returns.
const readCount = 1024

// Run owns partitions and feeds the detector from them until ctx ends; it
// also flushes the detector every Options.Flush (instead of Detector.Run).
// On the way out it flushes and hands every partition over.
func (f *Feed) Run(ctx context.Context) {
	var nextLease, nextFlush time.Time
	for ctx.Err() == nil {
		now := time.Now()
		if !now.Before(nextLease) {
			nextLease = now.Add(f.opt.Renew)
			if err := f.maintain(ctx); err != nil && ctx.Err() == nil && f.slog.ok() {
				f.log.Warn("partition: Redis failed; leases not renewed", "err", err)
			}
		}
		if !now.Before(nextFlush) {
			nextFlush = now.Add(f.opt.Flush)
			if err := f.checkpoint(ctx); err != nil && ctx.Err() == nil {
				f.log.Error("partition: checkpoint", "err", err)
			}
		}
		wait := min(f.opt.Block, time.Until(nextLease), time.Until(nextFlush))
		if len(f.parts) == 0 {
			sleep(ctx, wait)
			continue
		}
		if err := f.read(ctx, wait); err != nil && ctx.Err() == nil {
			if f.slog.ok() {
				f.log.Warn("partition: reading events failed", "err", err)
			}
			sleep(ctx, wait)
		}
	}
	f.leaveAll(context.WithoutCancel(ctx))
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// read waits up to block for events on the owned partitions and hands them
// to the detector in stream order.
func (f *Feed) read(ctx context.Context, block time.Duration) error {
	block = max(block, time.Millisecond)
	streams := make([]string, 0, 2*len(f.parts))
	ids := make([]string, 0, len(f.parts))
	byStream := make(map[string]int, len(f.parts))
	for n, pt := range f.parts {
		s := f.streamKey(n)
		streams = append(streams, s)
		ids = append(ids, pt.cursor)
		byStream[s] = n
	}
	streams = append(streams, ids...)
	tctx, cancel := context.WithTimeout(ctx, block+f.opt.Timeout)
	defer cancel()
	res, err := f.rdb.XRead(tctx, &redis.XReadArgs{Streams: streams, Count: readCount, Block: block}).Result()
	if errors.Is(err, redis.Nil) {
		return nil // nothing new
	}
	if err != nil {
		return err
	}
	for _, s := range res {
		n, ok := byStream[s.Stream]
		if !ok {
			continue
		}
		pt := f.parts[n]
		for _, m := range s.Messages {
			f.handle(ctx, pt, m)
		}
	}
	return nil
}

// handle decodes one entry and hands it to the detector, its time clamped
// so that it never runs backwards within the partition.
func (f *Feed) handle(ctx context.Context, pt *part, m redis.XMessage) {
	pt.cursor = m.ID
	raw, _ := m.Values["e"].(string)
	var e event.Event
	if len(raw) > maxEntry || json.Unmarshal([]byte(raw), &e) != nil {
		if f.slog.ok() {
			f.log.Warn("partition: skipping a malformed stream entry", "id", m.ID, "bytes", len(raw))
		}
		return
	}
	if e.Time.Unix() >= 0 { // else the detector ignores it
		if t := e.Time.UnixNano(); t < pt.last {
			e.Time = time.Unix(0, pt.last).UTC()
		} else {
			pt.last = t
		}
	}
	f.det.Handle(ctx, &e)
	f.handled.Add(1)
}
