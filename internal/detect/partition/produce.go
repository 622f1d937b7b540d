// Producing: this instance's events into the partitions' streams.

package partition

import (
	"context"
	"encoding/json"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/internal/clock"
	"github.com/wardenhq/warden/internal/event"
)

// batchEvery is how long the first queued event waits for others before
// they go out as one pipeline; maxBatch sends at once when that many wait.
const (
	batchEvery = 2 * time.Millisecond
	maxBatch   = 512
)

// pendingEvent is a queued event, encoded: the bus's Sink contract forbids
// keeping e itself.
type pendingEvent struct {
	part int
	data []byte
}

// Handle implements event.Sink: subscribe it with event.Async. An event
// without a key has nothing to detect on and is skipped; while Redis is
// failing the event goes to the local detector.
func (f *Feed) Handle(ctx context.Context, e *event.Event) {
	if e == nil || e.KeyID == "" {
		return
	}
	b, err := e.AppendJSON(make([]byte, 0, 1536))
	if err != nil {
		f.log.Error("partition: encoding event", "err", err)
		return
	}
	f.mu.Lock()
	if time.Now().Before(f.down) {
		f.mu.Unlock()
		f.det.Handle(ctx, e)
		f.fallback.Add(1) // after: a reader of the count sees the event handled
		return
	}
	f.pending = append(f.pending, pendingEvent{part: Of(e.KeyID), data: b})
	first, full := len(f.pending) == 1, len(f.pending) >= maxBatch
	f.mu.Unlock()
	switch {
	case full:
		f.send(ctx)
	case first:
		select {
		case f.queued <- struct{}{}:
		default:
		}
	}
}

// produceLoop sends what queued batchEvery after the first event of each
// batch, until Close. It sleeps while nothing is queued: the bus hands
// events over in bursts (its asynchronous drain), and a ticker every
// batchEvery woke every instance 500 times a second, idle or not.
func (f *Feed) produceLoop() {
	defer close(f.flushed)
	clock.Linger(f.queued, batchEvery, f.stop, func() { f.send(context.Background()) })
}

// send appends the queued events to their streams in one pipeline. On
// failure the batch goes to the local detector and so does everything
// else for Options.Cooldown.
func (f *Feed) send(ctx context.Context) {
	f.mu.Lock()
	batch := f.pending
	f.pending = nil
	f.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	tctx, cancel := f.timeout(ctx)
	defer cancel()
	_, err := f.rdb.Pipelined(tctx, func(p redis.Pipeliner) error {
		for _, pe := range batch {
			p.XAdd(tctx, &redis.XAddArgs{Stream: f.streamKey(pe.part), MaxLen: f.opt.MaxLen, Approx: true, Values: []any{"e", pe.data}})
		}
		return nil
	})
	if err == nil {
		f.produced.Add(int64(len(batch)))
		return
	}
	// Some entries may have gone in before the failure; handling them here
	// too counts them twice on their owner's key, which errs towards
	// detecting. Losing them would err towards blindness.
	if f.slog.ok() {
		f.log.Warn("partition: Redis failed; detecting on this instance's own events", "events", len(batch), "err", err)
	}
	f.mu.Lock()
	f.down = time.Now().Add(f.opt.Cooldown)
	f.mu.Unlock()
	for _, pe := range batch {
		var e event.Event
		if json.Unmarshal(pe.data, &e) == nil {
			f.det.Handle(ctx, &e)
		}
	}
	f.fallback.Add(int64(len(batch)))
}

// Close sends what is queued and stops the producer. Close the bus first,
// so that its queue drained into the Feed.
func (f *Feed) Close() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	<-f.flushed
}
