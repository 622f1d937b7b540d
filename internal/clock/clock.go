// Package clock is the time Warden's time-dependent parts read: rate and
// token limits, key and token expiry, the audit log's checkpoints, the
// live view's windows. A server runs on the wall clock; replay runs the
// same parts on a Virtual clock that it sets to each recorded request's
// timestamp, so a recording replays the same way on any day, at any speed.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// Wall is the real clock.
type Wall struct{}

// Now returns time.Now().
func (Wall) Now() time.Time { return time.Now() }

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
