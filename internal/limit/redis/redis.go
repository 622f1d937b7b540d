// Package redislimit shares Warden's rate limits and concurrency gates
// between instances through Redis (github.com/redis/go-redis/v9). It
// implements limit.Rater and limit.Gate with the same semantics as the
// in-process limit.Local, so a key allowed 60 requests a minute gets 60 a
// minute in total, however many instances its traffic is spread over.
//
// # Rates
//
// Take runs GCRA in a Lua script, atomically on the Redis server (EVALSHA,
// falling back to EVAL once when the server does not know the script yet).
// The arithmetic is exactly that of limit.GCRA, in integer nanoseconds:
// Redis Lua numbers are doubles, so the script never handles an absolute
// time in nanoseconds (about 1.8e18, past 2^53) but splits it into seconds
// and nanoseconds and works on differences, which stay far below 2^53. A
// bucket is one string key, "<prefix>rate:<key>" = "<sec>:<nsec>" of its
// theoretical arrival time, expiring a second after the bucket is full again.
// TakeAll runs the same script over several buckets, so a request's request
// and token limits cost one round trip (on a Redis Cluster, where the buckets
// may live on different nodes, one round trip each).
//
// # Time
//
// By default Take uses the now it is given, as the in-process limiter does,
// so tests and replays are deterministic. Across instances this is safe with
// clocks kept by NTP: a skew of d between two instances moves at most d's
// worth of units (d/interval: one request for 1 s of skew at 60/min, none
// for the milliseconds NTP keeps), and a fast clock only makes the others
// wait, so skew can never admit more than the limit over a window. Set
// Options.ServerTime to use the Redis server's clock (TIME) instead, one
// clock for all instances, when instance clocks cannot be trusted.
//
// # Concurrency
//
// Acquire keeps a sorted set per key, "<prefix>conc:<key>", of request ids
// scored by the expiry of their lease, on the server's clock. A slot is
// taken only if fewer than max unexpired leases remain; release removes the
// id. An instance renews the leases it holds every Lease/3, in one pipeline,
// so a request may run as long as it likes, while the slots of an instance
// that crashed free themselves within Lease.
//
// # Failures
//
// Every method returns the Redis error; it decides nothing on its own. Wrap
// the limiter in failover.Rater / failover.Gate to choose what a request
// gets when Redis is away (closed, open, or per-instance limits). go-redis
// reconnects by itself, so Warden recovers without a restart.
package redislimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/internal/clock"
	"github.com/wardenhq/warden/internal/limit"
)

var (
	_ limit.Rater      = (*Limiter)(nil)
	_ limit.MultiRater = (*Limiter)(nil)
	_ limit.Gate       = (*Limiter)(nil)
)

// Options configure a Limiter. The zero value gives the defaults.
type Options struct {
	// Prefix starts every Redis key the limiter writes. Default "warden:".
	Prefix string
	// ServerTime makes Take use the Redis server's clock instead of the now
	// it is passed. See the package doc.
	ServerTime bool
	// Lease is how long a concurrency slot outlives the instance that took
	// it, if that instance dies without releasing it. Default 30s.
	Lease time.Duration
	// Logger receives lease renewal failures. Nil means slog.Default().
	Logger *slog.Logger
}

// DefaultLease is the lease of a concurrency slot when Options.Lease is zero.
const DefaultLease = 30 * time.Second

// maxPerMinute bounds limits: limit.GCRA needs at least one nanosecond per
// unit, and no real limit comes near.
const maxPerMinute = 1_000_000_000

// releaseTimeout bounds the Redis call of a release, which has no context of
// its own. If it fails, the lease expires by itself.
const releaseTimeout = 2 * time.Second

// Limiter is a limit.Rater and limit.Gate backed by Redis. It is safe for
// concurrent use. Call Close when done, to stop renewing leases.
type Limiter struct {
	rdb        redis.UniversalClient
	prefix     string
	serverTime bool
	lease      time.Duration
	log        *slog.Logger

	stop chan struct{} // closed by Close
	done chan struct{} // closed when the renewer has stopped

	mu      sync.Mutex
	held    map[string]map[string]struct{} // Redis key -> request ids held by this instance
	started bool                           // the renewer runs
	closed  bool
}

// New returns a limiter on the client c, which it does not close.
func New(c redis.UniversalClient, o Options) *Limiter {
	if o.Prefix == "" {
		o.Prefix = "warden:"
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Limiter{
		rdb:        c,
		prefix:     o.Prefix,
		serverTime: o.ServerTime,
		lease:      o.Lease,
		log:        o.Logger,
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
		held:       make(map[string]map[string]struct{}),
	}
}

// NewClient returns a client for a redis:// or rediss:// URL (see
// redis.ParseURL), with timeouts suited to the request path: a limiter call
// that cannot finish quickly should fail and let the failure policy decide.
// Timeouts in the URL (dial_timeout, read_timeout, ...) take precedence.
func NewClient(rawURL string) (*redis.Client, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		// The error may quote the URL, password included: do not wrap it.
		return nil, errors.New("redislimit: malformed Redis URL (expected redis://[user:password@]host:port/db)")
	}
	// ParseURL leaves unset timeouts at zero, for go-redis to default to
	// seconds: too long for a request path.
	if opt.DialTimeout == 0 {
		opt.DialTimeout = time.Second
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = 500 * time.Millisecond
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = opt.ReadTimeout
	}
	opt.ContextTimeoutEnabled = true // a caller's deadline bounds the socket wait too
	if opt.ClientName == "" {
		opt.ClientName = "warden"
	}
	return redis.NewClient(opt), nil
}

// clampN bounds a take so the script's arithmetic stays exact (below 2^53
// nanoseconds) without changing any outcome: a take of more than the bucket
// is refused whatever its size, and a give-back larger than anything a
// bucket can owe empties it whatever its size.
func clampN(n, perMinute int) int {
	bound := 1000*perMinute + 2
	return max(-bound, min(n, bound))
}

// Take implements limit.Rater.
func (l *Limiter) Take(ctx context.Context, key string, perMinute, n int, now time.Time) (limit.Decision, error) {
	ds, err := l.TakeAll(ctx, []limit.Take{{Bucket: key, PerMinute: perMinute, N: n}}, now)
	if err != nil {
		return limit.Decision{}, err
	}
	return ds[0], nil
}

// TakeAll implements limit.MultiRater: all the takes in one EVALSHA, so a
// request's request and token limits cost one round trip. Takes with no
// limit (perMinute <= 0) are allowed without being sent. On a Redis Cluster
// the buckets of one call may live on different nodes, which one script
// cannot reach, so there it makes the takes one at a time.
func (l *Limiter) TakeAll(ctx context.Context, takes []limit.Take, now time.Time) ([]limit.Decision, error) {
	if _, cluster := l.rdb.(*redis.ClusterClient); cluster && len(takes) > 1 {
		return limit.TakeEach(ctx, l, takes, now)
	}
	serverTime := "0"
	if l.serverTime {
		serverTime = "1"
	}
	keys := make([]string, 0, len(takes))
	args := make([]any, 3, 3+2*len(takes))
	args[0], args[1], args[2] = now.Unix(), now.Nanosecond(), serverTime
	first := "" // the first bucket sent, to name in errors
	for _, t := range takes {
		if t.PerMinute <= 0 {
			continue
		}
		if t.PerMinute > maxPerMinute {
			return nil, fmt.Errorf("redislimit: limit of %d per minute is larger than %d", t.PerMinute, maxPerMinute)
		}
		if first == "" {
			first = t.Bucket
		}
		keys = append(keys, l.prefix+"rate:"+t.Bucket)
		args = append(args, t.PerMinute, clampN(t.N, t.PerMinute))
	}
	var res []int64
	if len(keys) > 0 {
		var err error
		res, err = gcraScript.Run(ctx, l.rdb, keys, args...).Int64Slice()
		if err != nil {
			return nil, fmt.Errorf("redislimit: take from %s: %w", first, err)
		}
		if len(res)%4 != 0 || len(res) == 0 || len(res) > 4*len(keys) {
			return nil, fmt.Errorf("redislimit: take from %s: script returned %d values", first, len(res))
		}
	}
	ds := make([]limit.Decision, 0, len(takes))
	for _, t := range takes {
		if t.PerMinute <= 0 {
			ds = append(ds, limit.Decision{Allowed: true})
			continue
		}
		if len(res) == 0 { // every take sent was allowed, so the script owes a result for this one
			return nil, fmt.Errorf("redislimit: take from %s: script returned too few values", first)
		}
		d := limit.Decision{
			Allowed:    res[0] == 1,
			Limit:      t.PerMinute,
			Remaining:  int(res[1]),
			RetryAfter: time.Duration(res[2]),
			Reset:      time.Duration(res[3]),
		}
		res = res[4:]
		if ds = append(ds, d); !d.Allowed {
			break
		}
	}
	return ds, nil
}

// Acquire implements limit.Gate. The returned release is safe to call more
// than once; only the first call counts.
func (l *Limiter) Acquire(ctx context.Context, key string, max int) (func(), bool, error) {
	if max <= 0 {
		return func() {}, true, nil
	}
	rkey := l.prefix + "conc:" + key
	id := newRequestID()
	ok, err := acquireScript.Run(ctx, l.rdb, []string{rkey}, max, id, l.lease.Milliseconds()).Bool()
	if err != nil {
		return nil, false, fmt.Errorf("redislimit: acquire %s: %w", key, err)
	}
	if !ok {
		return nil, false, nil
	}
	l.mu.Lock()
	if !l.started && !l.closed {
		l.started = true
		go l.renew()
	}
	if l.held[rkey] == nil {
		l.held[rkey] = make(map[string]struct{})
	}
	l.held[rkey][id] = struct{}{}
	l.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { l.release(rkey, id) }) }, true, nil
}

func (l *Limiter) release(rkey, id string) {
	l.mu.Lock()
	if ids := l.held[rkey]; ids != nil {
		delete(ids, id)
		if len(ids) == 0 {
			delete(l.held, rkey)
		}
	}
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	if err := l.rdb.ZRem(ctx, rkey, id).Err(); err != nil {
		l.log.Warn("redislimit: release failed; the slot frees itself when its lease ends",
			"key", rkey, "lease", l.lease, "err", err)
	}
}

// renew extends the leases this instance holds, every lease/3, until Close.
func (l *Limiter) renew() {
	defer close(l.done)
	clock.Every(l.lease/3, l.stop, func() {
		if err := l.renewOnce(); err != nil {
			l.log.Warn("redislimit: lease renewal failed; retrying", "err", err)
		}
	})
}

// renewOnce extends every held lease in one pipeline. The script is loaded
// first, so the pipelined EVALSHAs cannot meet a server that forgot it.
func (l *Limiter) renewOnce() error {
	l.mu.Lock()
	batch := make(map[string][]any, len(l.held))
	for rkey, ids := range l.held {
		args := []any{l.lease.Milliseconds()}
		for id := range ids {
			args = append(args, id)
		}
		batch[rkey] = args
	}
	l.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.lease/3)
	defer cancel()
	if err := renewScript.Load(ctx, l.rdb).Err(); err != nil {
		return fmt.Errorf("redislimit: load renew script: %w", err)
	}
	pipe := l.rdb.Pipeline()
	cmds := make(map[string]*redis.Cmd, len(batch))
	for rkey, args := range batch {
		cmds[rkey] = renewScript.EvalSha(ctx, pipe, []string{rkey}, args...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redislimit: renew %d leases: %w", len(batch), err)
	}
	for rkey, cmd := range cmds {
		if lost, _ := cmd.Int64(); lost > 0 {
			// The lease ran out before it was renewed (Redis was away for
			// longer than a lease). The request keeps running; its slot may
			// have gone to another.
			l.log.Warn("redislimit: concurrency leases expired before renewal", "key", rkey, "lost", lost)
		}
	}
	return nil
}

// Close stops renewing leases; slots still held expire within a lease.
// Acquire keeps working after Close, but without renewal. Close does not
// close the Redis client.
func (l *Limiter) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	started := l.started
	l.mu.Unlock()
	close(l.stop)
	if started {
		<-l.done
	}
	return nil
}

func newRequestID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("redislimit: crypto/rand failed: " + err.Error()) // broken invariant of the OS
	}
	return hex.EncodeToString(b[:])
}
