// Package failover decides what requests get when the shared limiter
// (Redis, through package redislimit) cannot answer: refuse them, let them
// through, or limit them per instance. Without it, every limiter error
// would be a 5xx, decided by whatever the gateway does with errors.
//
// # Policies
//
//	closed  refuse: a request that cannot be counted is not served: Take and
//	        Acquire return ErrUnavailable, which the gateway answers with 503
//	        (not 429: the client did nothing wrong). Safest against abuse;
//	        an outage of Redis is an outage of Warden.
//	open    allow: limits are off while Redis is away. Safest for
//	        availability; a stolen key is unlimited for that time.
//	local   (default) count in process (limit.Local): every instance still
//	        enforces each key's limits on its own share of traffic, so with N
//	        instances a key may get up to N times its limit, never unlimited.
//
// Give-backs (negative takes) are always allowed, as the Rater contract says.
//
// # Bounding the cost of an outage
//
// Each call to the backend gets Options.Timeout. After a failure the backend
// is not asked again for Options.Cooldown: requests are decided by the
// policy at once instead of each waiting for a timeout. The first call after
// the cooldown tries the backend again, so Warden recovers by itself once
// Redis is back (go-redis reconnects). Errors are counted (Stats) and
// reported through Options.OnError, for metrics and logs.
//
// Authentication does not depend on Redis: keys already known keep being
// checked from the gateway's short-lived key cache, and revocations still
// arrive by polling the store (see package fanout).
package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardenhq/warden/internal/limit"
)

// ErrUnavailable is returned under the Closed policy while the backend is
// failing.
var ErrUnavailable = errors.New("failover: shared limiter unavailable")

// Policy is what a request gets when the backend cannot decide.
type Policy string

// The policies. See the package doc.
const (
	Closed Policy = "closed"
	Open   Policy = "open"
	Local  Policy = "local"
)

// ParsePolicy checks a policy name from configuration. Empty means Local.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(s); p {
	case "":
		return Local, nil
	case Closed, Open, Local:
		return p, nil
	}
	return "", fmt.Errorf("failover: unknown policy %q (want closed, open or local)", s)
}

// Backend is a shared limiter, such as *redislimit.Limiter.
type Backend interface {
	limit.Rater
	limit.Gate
}

// Options configure a Limiter. The zero value gives the defaults.
type Options struct {
	Policy Policy // default Local
	// Timeout bounds each backend call. Default 250ms.
	Timeout time.Duration
	// Cooldown is how long the backend is left alone after a failure.
	// Default 1s.
	Cooldown time.Duration
	// OnError is called with each backend failure ("take" or "acquire").
	// Nil logs it with slog.Default, at most once per cooldown.
	OnError func(op string, err error)
}

// Stats counts what the Limiter has done since it was made.
type Stats struct {
	Errors   uint64 // backend calls that failed
	Degraded uint64 // decisions made by the policy, not the backend
}

// Limiter is a limit.Rater and limit.Gate that asks a Backend and applies a
// Policy when it fails. It is safe for concurrent use.
type Limiter struct {
	next     Backend
	policy   Policy
	timeout  time.Duration
	cooldown time.Duration
	onError  func(op string, err error)

	local limit.Local // counts under the Local policy

	errors    atomic.Uint64
	degraded  atomic.Uint64
	downUntil atomic.Int64 // unix nanoseconds; backend skipped until then

	logMu  sync.Mutex
	logged time.Time // last default log of an error
}

var (
	_ limit.Rater      = (*Limiter)(nil)
	_ limit.MultiRater = (*Limiter)(nil)
	_ limit.Gate       = (*Limiter)(nil)
)

// New wraps next. It returns an error for an unknown policy.
func New(next Backend, o Options) (*Limiter, error) {
	p, err := ParsePolicy(string(o.Policy))
	if err != nil {
		return nil, err
	}
	l := &Limiter{next: next, policy: p, timeout: o.Timeout, cooldown: o.Cooldown, onError: o.OnError}
	if l.timeout <= 0 {
		l.timeout = 250 * time.Millisecond
	}
	if l.cooldown <= 0 {
		l.cooldown = time.Second
	}
	if l.onError == nil {
		l.onError = l.logError
	}
	return l, nil
}

// Policy returns the policy in force.
func (l *Limiter) Policy() Policy { return l.policy }

// Stats returns the counters.
func (l *Limiter) Stats() Stats {
	return Stats{Errors: l.errors.Load(), Degraded: l.degraded.Load()}
}

// Healthy reports whether the backend answered the last time it was asked.
func (l *Limiter) Healthy() bool { return time.Now().UnixNano() >= l.downUntil.Load() }

func (l *Limiter) logError(op string, err error) {
	l.logMu.Lock()
	defer l.logMu.Unlock()
	if time.Since(l.logged) < l.cooldown {
		return
	}
	l.logged = time.Now()
	slog.Default().Warn("limits: shared limiter failed; applying the failure policy",
		"op", op, "policy", string(l.policy), "err", err)
}

// failed records a backend failure. It reports false when the failure is
// the caller's own (its context ended), which is no fault of the backend and
// is returned as is.
func (l *Limiter) failed(ctx context.Context, op string, err error) bool {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return false
	}
	l.errors.Add(1)
	l.downUntil.Store(time.Now().Add(l.cooldown).UnixNano())
	l.onError(op, err)
	return true
}

// ask calls the backend, bounded by the timeout, while it is healthy. With
// answered false the backend is down (or was just found to be) and the
// policy decides; with answered true, v and err are the backend's answer,
// or err is the caller's own failure (its context ended), returned as is.
func ask[T any](l *Limiter, ctx context.Context, op string, call func(context.Context) (T, error)) (v T, answered bool, err error) {
	if !l.Healthy() {
		return v, false, nil
	}
	cctx, cancel := context.WithTimeout(ctx, l.timeout)
	v, err = call(cctx)
	cancel()
	if err != nil && l.failed(ctx, op, err) {
		return v, false, nil
	}
	return v, true, err
}

// Take implements limit.Rater.
func (l *Limiter) Take(ctx context.Context, key string, perMinute, n int, now time.Time) (limit.Decision, error) {
	d, answered, err := ask(l, ctx, "take", func(ctx context.Context) (limit.Decision, error) {
		return l.next.Take(ctx, key, perMinute, n, now)
	})
	if answered {
		return d, err
	}
	l.degraded.Add(1)
	return fallback{l}.Take(ctx, key, perMinute, n, now)
}

// TakeAll implements limit.MultiRater: one backend call for all the takes
// when the backend is a MultiRater, and the policy for all of them when it
// fails.
func (l *Limiter) TakeAll(ctx context.Context, takes []limit.Take, now time.Time) ([]limit.Decision, error) {
	m, ok := l.next.(limit.MultiRater)
	if !ok {
		return limit.TakeEach(ctx, l, takes, now)
	}
	ds, answered, err := ask(l, ctx, "take", func(ctx context.Context) ([]limit.Decision, error) {
		return m.TakeAll(ctx, takes, now)
	})
	if answered {
		return ds, err
	}
	l.degraded.Add(1)
	return limit.TakeEach(ctx, fallback{l}, takes, now)
}

// fallback is the Rater that decides by the policy, without the backend.
type fallback struct{ l *Limiter }

func (f fallback) Take(ctx context.Context, key string, perMinute, n int, now time.Time) (limit.Decision, error) {
	switch {
	case f.l.policy == Local:
		return f.l.local.Take(ctx, key, perMinute, n, now)
	case f.l.policy == Open || n <= 0 || perMinute <= 0:
		return limit.Decision{Allowed: true, Limit: perMinute}, nil
	default: // Closed
		return limit.Decision{Limit: perMinute, RetryAfter: f.l.cooldown}, ErrUnavailable
	}
}

// Acquire implements limit.Gate.
func (l *Limiter) Acquire(ctx context.Context, key string, max int) (func(), bool, error) {
	type slot struct {
		release func()
		ok      bool
	}
	sl, answered, err := ask(l, ctx, "acquire", func(ctx context.Context) (slot, error) {
		release, ok, err := l.next.Acquire(ctx, key, max)
		return slot{release, ok}, err
	})
	if answered {
		if err != nil {
			return nil, false, err
		}
		return sl.release, sl.ok, nil
	}
	l.degraded.Add(1)
	switch {
	case l.policy == Local:
		return l.local.Acquire(ctx, key, max)
	case l.policy == Open || max <= 0:
		return func() {}, true, nil
	default: // Closed
		return nil, false, ErrUnavailable
	}
}
