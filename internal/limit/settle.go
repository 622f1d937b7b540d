package limit

import (
	"context"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/clock"
)

// Settler is a Rater that can apply settlements (give-backs, and charges
// beyond an estimate) later, which need no answer: the gateway learns the
// tokens a request really used only after the answer, and settles the
// difference with the estimate it took before forwarding.
type Settler interface {
	Settle(key string, perMinute, n int, now time.Time)
}

// Settle gives back (n < 0) or charges n units of key after the fact: it
// queues them if r is a Settler and takes them at once otherwise. The
// outcome is not reported: a give-back never fails, and a late charge that a
// nearly empty bucket refuses is paid by the key's next request through its
// estimate.
func Settle(ctx context.Context, r Rater, key string, perMinute, n int, now time.Time) {
	if s, ok := r.(Settler); ok {
		s.Settle(key, perMinute, n, now)
		return
	}
	r.Take(ctx, key, perMinute, n, now)
}

// settleTimeout bounds one flush's takes.
const settleTimeout = 2 * time.Second

// Batched wraps a shared Rater (Redis, a network round trip per call) so
// that settlements cost the request path nothing: they are summed per
// bucket and applied every interval, one take per bucket, in the
// background. Each answer settled its tokens with a round trip of its own
// before it went out (one of the two Redis round trips of every request);
// now a busy key costs one per interval whatever its rate, and a bucket's
// settlement waits at most about one interval (plus the flush itself).
// Takes pass through unchanged. Close applies what is queued.
//
// In-process raters need none of this, and replay must stay deterministic:
// wrap only a remote rater.
type Batched struct {
	next  Rater
	every time.Duration

	mu      sync.Mutex
	due     map[string]settlement
	closed  bool
	closing sync.Once
	wake    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
}

// settlement is what is owed to one bucket: the sum of its settlements and
// the latest time among them.
type settlement struct {
	perMinute, n int
	at           time.Time
}

var (
	_ Rater      = (*Batched)(nil)
	_ MultiRater = (*Batched)(nil)
	_ Settler    = (*Batched)(nil)
)

// NewBatched returns next with settlements applied every interval (10 ms
// when every <= 0). Call Close when done.
func NewBatched(next Rater, every time.Duration) *Batched {
	if every <= 0 {
		every = 10 * time.Millisecond
	}
	b := &Batched{next: next, every: every, due: map[string]settlement{},
		wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	go b.run()
	return b
}

// Take implements Rater.
func (b *Batched) Take(ctx context.Context, key string, perMinute, n int, now time.Time) (Decision, error) {
	return b.next.Take(ctx, key, perMinute, n, now)
}

// TakeAll implements MultiRater, in one step if the wrapped rater can.
func (b *Batched) TakeAll(ctx context.Context, takes []Take, now time.Time) ([]Decision, error) {
	return TakeAll(ctx, b.next, takes, now)
}

// Settle implements Settler. After Close it takes at once.
func (b *Batched) Settle(key string, perMinute, n int, now time.Time) {
	if n == 0 || perMinute <= 0 {
		return
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
		defer cancel()
		b.next.Take(ctx, key, perMinute, n, now)
		return
	}
	s := b.due[key]
	s.perMinute, s.n = perMinute, s.n+n
	if now.After(s.at) {
		s.at = now
	}
	b.due[key] = s
	first := len(b.due) == 1
	b.mu.Unlock()
	if first {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
}

// run flushes an interval after the first settlement queued since the last
// flush, until Close.
func (b *Batched) run() {
	defer close(b.stopped)
	clock.Linger(b.wake, b.every, b.stop, b.flush)
}

// flush applies every queued settlement, one take per bucket.
func (b *Batched) flush() {
	b.mu.Lock()
	due := b.due
	if len(due) > 0 {
		b.due = make(map[string]settlement, len(due))
	}
	b.mu.Unlock()
	if len(due) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	for key, s := range due {
		if s.n != 0 {
			b.next.Take(ctx, key, s.perMinute, s.n, s.at)
		}
	}
}

// Close stops the background flush and applies what is queued; later
// settlements are taken at once. It does not close the wrapped rater.
func (b *Batched) Close() error {
	b.closing.Do(func() {
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		close(b.stop)
		<-b.stopped // the loop's last flush applied what was queued
	})
	return nil
}
