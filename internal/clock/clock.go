// Package clock is the time Warden's time-dependent parts read: rate and
// token limits, key and token expiry, the audit log's checkpoints, the
// live view's windows. A server runs on the wall clock; replay runs the
// same parts on a Virtual clock that it sets to each recorded request's
// timestamp, so a recording replays the same way on any day, at any speed.
package clock

import (
	"context"
	"sync"
	"time"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// Wall is the real clock.
type Wall struct{}

// Now returns time.Now() without its monotonic reading: event times are
// wall times, recorded and replayed as such, and a difference of two of
// them must come out the same live (where Go would otherwise subtract
// monotonic readings) and in replay (where parsed times have none).
func (Wall) Now() time.Time { return time.Now().Round(0) }

// Virtual is a clock that only moves when it is told to. The zero value
// reads as the zero time until Set. It is safe for concurrent use.
type Virtual struct {
	mu sync.Mutex
	t  time.Time
}

// NewVirtual returns a Virtual clock reading t.
func NewVirtual(t time.Time) *Virtual { return &Virtual{t: t} }

// Set moves the clock to t. Event time of recorded traffic may step back a
// little (clients' clocks, reordered logs); the clock follows it, because
// every part that reads it compares against the same time.
func (v *Virtual) Set(t time.Time) {
	v.mu.Lock()
	v.t = t
	v.mu.Unlock()
}

// Advance moves the clock forward by d.
func (v *Virtual) Advance(d time.Duration) {
	v.mu.Lock()
	v.t = v.t.Add(d)
	v.mu.Unlock()
}

// Now returns the time the clock was last set to.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.t
}

type eventTimeKey struct{}

// WithEventTime returns ctx carrying t, the event time of the request it
// belongs to, for parts that see the request but not the gateway's clock
// (the mock upstream stamps its answers with it, so a replayed answer is
// byte for byte the live one).
func WithEventTime(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, eventTimeKey{}, t)
}

// EventTime returns the time WithEventTime put in ctx.
func EventTime(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(eventTimeKey{}).(time.Time)
	return t, ok
}

// Sleep waits d on the wall clock and returns nil, or returns ctx.Err() as
// soon as ctx ends: the one cancellable wait of the parts that pace
// themselves against real time (the console's sign-in back-off, the
// scanner's per-host limit).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Every calls fn every d on the wall clock until stop closes: the loop of
// the background work that runs on a period (the audit log's checkpoints,
// the Redis limiter's lease renewal, the flushes of the detector and the
// usage ledger). A call of fn that is running when stop closes ends first.
func Every(d time.Duration, stop <-chan struct{}, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			fn()
		}
	}
}

// Linger calls fn d after a signal on kick, so that what arrives meanwhile
// goes out in the same call, and sleeps while no signal comes: the loop of
// work that is batched but not periodic (the partition feed's stream
// appends, the shared limiter's settlements), which an idle instance should
// not wake up for. Signals during the wait or the call make the next round
// (kick should have a buffer of one, sent to without blocking). When stop
// closes Linger calls fn once more, for what is left, and returns.
func Linger(kick <-chan struct{}, d time.Duration, stop <-chan struct{}, fn func()) {
	defer fn()
	t := time.NewTimer(d)
	t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-kick:
		}
		t.Reset(d)
		select {
		case <-stop:
			t.Stop()
			return
		case <-t.C:
		}
		fn()
	}
}
