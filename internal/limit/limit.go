// Package limit enforces per-key rates and concurrency: requests per minute,
// tokens per minute and concurrent requests. The in-process implementations
// here serve a single instance; package limit/redis shares the same state
// across instances.
//
// Rates use GCRA (the generic cell rate algorithm, a token bucket kept as one
// timestamp): a limit of L per minute admits a burst of L and then one unit
// every minute/L. Time is passed in, so tests and replay are deterministic.
package limit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// Decision is the outcome of a rate check.
type Decision struct {
	Allowed    bool
	Limit      int           // the limit per minute that applied
	Remaining  int           // units left in the bucket after this take
	RetryAfter time.Duration // when refused: how long until n units are available
	Reset      time.Duration // how long until the bucket is full again
}

// Rater takes n units from the bucket named key, whose capacity is perMinute
// units refilled evenly over a minute. A take larger than the whole bucket is
// refused with RetryAfter of a full minute. n may be negative to give units
// back (a token estimate that turned out too high); a give-back never fails.
type Rater interface {
	Take(ctx context.Context, key string, perMinute, n int, now time.Time) (Decision, error)
}

// Take is one take of a multi-bucket check: N units from Bucket, whose
// capacity is PerMinute units a minute.
type Take struct {
	Bucket    string
	PerMinute int
	N         int
}

// MultiRater is a Rater that makes several takes in one step: one Redis
// round trip instead of one per limit. Its TakeAll has the contract of the
// package function TakeAll.
type MultiRater interface {
	TakeAll(ctx context.Context, takes []Take, now time.Time) ([]Decision, error)
}

// TakeAll makes the takes in order and stops at the first refusal. It
// returns the decisions of the takes made: all of them if every one was
// allowed, otherwise up to and including the refused one, whose units were
// not taken (the units of the takes before it were). r makes them in one
// step if it is a MultiRater, otherwise one Take at a time.
func TakeAll(ctx context.Context, r Rater, takes []Take, now time.Time) ([]Decision, error) {
	if m, ok := r.(MultiRater); ok {
		return m.TakeAll(ctx, takes, now)
	}
	return TakeEach(ctx, r, takes, now)
}

// TakeEach is TakeAll one Take at a time, for raters that cannot do better.
func TakeEach(ctx context.Context, r Rater, takes []Take, now time.Time) ([]Decision, error) {
	ds := make([]Decision, 0, len(takes))
	for _, t := range takes {
		d, err := r.Take(ctx, t.Bucket, t.PerMinute, t.N, now)
		if err != nil {
			return ds, err
		}
		ds = append(ds, d)
		if !d.Allowed {
			break
		}
	}
	return ds, nil
}

// Gate bounds concurrent requests per key. Acquire returns ok=false when max
// requests are already in flight; otherwise the caller must call release once.
type Gate interface {
	Acquire(ctx context.Context, key string, max int) (release func(), ok bool, err error)
}

// Local is an in-process Rater and Gate. The zero value is ready to use.
// State is sharded by key, so requests on different keys rarely contend.
type Local struct {
	shards [localShards]localShard
}

const localShards = 64

type localShard struct {
	mu      sync.Mutex
	tat     map[string]time.Time // GCRA theoretical arrival time per bucket
	running map[string]int
	sweepAt time.Time
}

// shardSeed spreads bucket names over the shards (hash/maphash, the
// runtime's string hash, seeded at random per process).
var shardSeed = maphash.MakeSeed()

func (l *Local) shard(key string) *localShard {
	return &l.shards[maphash.String(shardSeed, key)%localShards]
}

// Take implements Rater.
func (l *Local) Take(_ context.Context, key string, perMinute, n int, now time.Time) (Decision, error) {
	if perMinute <= 0 {
		return Decision{Allowed: true}, nil
	}
	sh := l.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.tat == nil {
		sh.tat = make(map[string]time.Time)
	}
	sh.sweepLocked(now)
	tat := sh.tat[key]
	d, newTAT := GCRA(tat, now, perMinute, n)
	if d.Allowed {
		sh.tat[key] = newTAT
	}
	return d, nil
}

// sweepLocked drops buckets that are full again, so idle keys cost no memory.
func (sh *localShard) sweepLocked(now time.Time) {
	if now.Sub(sh.sweepAt) < time.Minute {
		return
	}
	sh.sweepAt = now
	for k, tat := range sh.tat {
		if !tat.After(now) {
			delete(sh.tat, k)
		}
	}
}

// GCRA computes one take on a bucket whose theoretical arrival time is tat.
// It returns the decision and the new tat (to store only if allowed). It is
// exported so that other backends (Redis) share the exact arithmetic in tests.
func GCRA(tat, now time.Time, perMinute, n int) (Decision, time.Time) {
	interval := time.Minute / time.Duration(perMinute)
	burst := time.Minute // capacity: perMinute units
	if tat.Before(now) {
		tat = now
	}
	d := Decision{Limit: perMinute}
	newTAT := tat.Add(time.Duration(n) * interval)
	if n <= 0 {
		if newTAT.Before(now) {
			newTAT = now
		}
		d.Allowed = true
		d.Remaining = remaining(newTAT, now, interval, perMinute)
		d.Reset = newTAT.Sub(now)
		return d, newTAT
	}
	allowAt := newTAT.Add(-burst)
	if allowAt.After(now) {
		d.RetryAfter = allowAt.Sub(now)
		if n > perMinute {
			d.RetryAfter = time.Minute
		}
		d.Remaining = remaining(tat, now, interval, perMinute)
		d.Reset = tat.Sub(now)
		return d, tat
	}
	d.Allowed = true
	d.Remaining = remaining(newTAT, now, interval, perMinute)
	d.Reset = newTAT.Sub(now)
	return d, newTAT
}

func remaining(tat, now time.Time, interval time.Duration, perMinute int) int {
	used := int((tat.Sub(now) + interval - 1) / interval)
	if used < 0 {
		used = 0
	}
	if used > perMinute {
		return 0
	}
	return perMinute - used
}

// Acquire implements Gate.
func (l *Local) Acquire(_ context.Context, key string, max int) (func(), bool, error) {
	if max <= 0 {
		return func() {}, true, nil
	}
	sh := l.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.running == nil {
		sh.running = make(map[string]int)
	}
	if sh.running[key] >= max {
		return nil, false, nil
	}
	sh.running[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			sh.mu.Lock()
			defer sh.mu.Unlock()
			if sh.running[key]--; sh.running[key] <= 0 {
				delete(sh.running, key)
			}
		})
	}, true, nil
}
