// Package partition runs one detector for a whole cluster of Warden
// instances: every instance appends its request events to Redis streams
// partitioned by key, and each partition is read by exactly one instance,
// its leased owner, which hands the events in stream order to its unchanged
// detect.Detector. So the detector sees every event of a key, whichever
// instance served it, and counts, profiles and incidents are the same as on
// one instance. docs/detector-state.md is the design.
//
// # Redis layout (Options.Prefix, default "warden:")
//
//	{prefix}events:{p}          stream of JSON event.Event, p = Of(key_id), 0..Partitions-1;
//	                            XADD ... MAXLEN ~ Options.MaxLen
//	{prefix}detect:members      sorted set: instance id -> expiry (ms, Redis time)
//	{prefix}detect:owner:{p}    instance id of the partition's owner, SET NX PX Options.Lease
//	{prefix}detect:cursor:{p}   last stream id whose effects the owner flushed to the store
//
// # Producing
//
// Feed.Handle is an asynchronous bus sink: it queues the event, and a
// batch goes out every few milliseconds as one pipelined XADD. The
// request path never waits for Redis.
//
// # Owning
//
// Every Options.Renew each instance heartbeats into the members set,
// renews the leases it holds, and claims free partitions up to its fair
// share ceil(Partitions / live members), or releases those above it so a
// newcomer gets work. A released partition is handed over: its keys'
// profiles and incidents are flushed, the cursor is written, then the lease
// is deleted. An instance that dies loses its leases after Options.Lease
// and the survivors claim them; they re-read from the last cursor, so at
// most one flush interval of events is handled twice (decisions are
// idempotent on the key record).
//
// # Consuming
//
// The owner reads all its partitions with one XREAD BLOCK from their
// cursors and calls Detector.Handle for each event in stream order. An
// event time that runs backwards (instances' clocks and batching differ by
// milliseconds) is clamped to the partition's latest, so decay and windows
// never run backwards.
//
// # Redis away
//
// When an XADD fails, that batch, and every event for Options.Cooldown
// after it, goes to the local detector instead (Stats.Fallback counts
// them): each instance then detects on its own share of traffic, as
// without Redis, weaker against a spread attack and never blind. Every
// Redis call has a timeout.
//
// # Step-up
//
// The gateway asks AllowsStepUp for keys under step-up. The owner answers
// from its live profile; another instance answers from the profile in the
// store, which the owner writes before each of its decisions goes out, and
// reloads it after Options.ViewTTL, or after a second when it refused.
package partition

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"hash/fnv"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/internal/detect"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store"
)

// Partitions is the number of partitions: more than any cluster has
// instances, few enough that one XREAD names all an owner holds. Owned
// partitions fit one uint64 bit mask.
const Partitions = 64

// Of returns the partition of a key: FNV-1a 64 of its id, mod Partitions.
func Of(keyID string) int {
	h := fnv.New64a()
	h.Write([]byte(keyID))
	return int(h.Sum64() % Partitions)
}

// Options tune a Feed. Zero fields take the defaults named.
type Options struct {
	// Prefix of every Redis key; default "warden:".
	Prefix string
	// Instance names this instance in the members set; a random suffix is
	// always added, since instances may share one configuration.
	Instance string
	// MaxLen caps each stream (approximately); default 100000.
	MaxLen int64
	// Lease is how long a partition stays owned without renewal; default
	// 15s. Members expire after two thirds of it.
	Lease time.Duration
	// Renew is how often leases are renewed and shares rebalanced;
	// default 1s.
	Renew time.Duration
	// Flush is how often the owner flushes the detector and writes its
	// cursors; default 10s.
	Flush time.Duration
	// Block bounds one XREAD; default 500ms.
	Block time.Duration
	// Timeout bounds every other Redis call; default 500ms.
	Timeout time.Duration
	// Cooldown is how long events go to the local detector after an XADD
	// failed; default 1s.
	Cooldown time.Duration
	// ViewTTL is how long a non-owner keeps a key's profile for step-up
	// checks; default 30s.
	ViewTTL time.Duration
	// Logger; nil: slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.Prefix == "" {
		o.Prefix = "warden:"
	}
	if o.MaxLen <= 0 {
		o.MaxLen = 100000
	}
	def(&o.Lease, 15*time.Second)
	def(&o.Renew, time.Second)
	def(&o.Flush, 10*time.Second)
	def(&o.Block, 500*time.Millisecond)
	def(&o.Timeout, 500*time.Millisecond)
	def(&o.Cooldown, time.Second)
	def(&o.ViewTTL, 30*time.Second)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Stats count what a Feed did, for metrics and tests.
type Stats struct {
	Produced int64 // events appended to a stream
	Fallback int64 // events handed to the local detector because Redis failed
	Handled  int64 // stream events handed to the detector as their owner
	Owned    int   // partitions held now
}

// Feed produces this instance's events into the streams and feeds the
// detector from the partitions this instance owns. Build it with New,
// subscribe it to the bus asynchronously, run Run until shutdown and Close
// it after the bus is closed.
type Feed struct {
	rdb redis.UniversalClient
	det *detect.Detector
	opt Options
	id  string
	log *slog.Logger

	// owned is the bit mask of partitions held, written by Run only and
	// read by AllowsStepUp.
	owned atomic.Uint64

	produced, fallback, handled atomic.Int64

	mu      sync.Mutex
	pending []pendingEvent
	down    time.Time // until when events go to the local detector
	stop    chan struct{}
	flushed chan struct{}
	queued  chan struct{} // the first event queued since the last send

	viewMu sync.Mutex
	views  map[string]time.Time // non-owned key -> when its profile was loaded

	// Run's own state (one goroutine).
	parts map[int]*part
	slog  logLimiter
}

// part is an owned partition.
type part struct {
	cursor string // last handled stream id
	last   int64  // latest event time handled, ns
}

// New returns a Feed that hands events to det. It starts the producer's
// batching goroutine; Close stops it.
func New(rdb redis.UniversalClient, det *detect.Detector, opt Options) *Feed {
	opt = opt.withDefaults()
	f := &Feed{rdb: rdb, det: det, opt: opt, log: opt.Logger, id: instanceID(opt.Instance),
		stop: make(chan struct{}), flushed: make(chan struct{}), queued: make(chan struct{}, 1), views: map[string]time.Time{}, parts: map[int]*part{}}
	go f.produceLoop()
	return f
}

// instanceID is name (or the host name), the pid and random bytes.
func instanceID(name string) string {
	if name == "" {
		name, _ = os.Hostname()
	}
	var b [6]byte
	rand.Read(b[:])
	return name + ":" + strconv.Itoa(os.Getpid()) + ":" + hex.EncodeToString(b[:])
}

// ID returns the name this instance holds leases under.
func (f *Feed) ID() string { return f.id }

// Stats returns the counts so far.
func (f *Feed) Stats() Stats {
	m := f.owned.Load()
	n := 0
	for ; m != 0; m &= m - 1 {
		n++
	}
	return Stats{Produced: f.produced.Load(), Fallback: f.fallback.Load(), Handled: f.handled.Load(), Owned: n}
}

// Owns reports whether this instance owns the key's partition now.
func (f *Feed) Owns(keyID string) bool { return f.owned.Load()&(1<<uint(Of(keyID))) != 0 }

// AllowsStepUp has the signature of gateway.Options.StepUp. See the
// package doc, "Step-up".
func (f *Feed) AllowsStepUp(k *keys.Key, addr netip.Addr, fingerprint string) bool {
	if f.Owns(k.ID) {
		return f.det.AllowsStepUp(k, addr, fingerprint)
	}
	now := time.Now()
	f.viewMu.Lock()
	loaded, ok := f.views[k.ID]
	if !ok || now.Sub(loaded) > f.opt.ViewTTL {
		f.forgetKey(k.ID)
		f.views[k.ID], loaded = now, now
	}
	f.viewMu.Unlock()
	if f.det.AllowsStepUp(k, addr, fingerprint) {
		return true
	}
	if now.Sub(loaded) < time.Second {
		return false
	}
	// Refused on a copy over a second old: the owner may have learned
	// this client since. Reload once and ask again.
	f.viewMu.Lock()
	f.forgetKey(k.ID)
	f.views[k.ID] = now
	f.viewMu.Unlock()
	return f.det.AllowsStepUp(k, addr, fingerprint)
}

// forgetKey drops a key's profile so it is loaded again, and keeps the
// view map bounded.
func (f *Feed) forgetKey(id string) {
	f.det.Forget(func(k string) bool { return k == id })
	if len(f.views) > 10000 {
		clear(f.views)
	}
}

// logLimiter keeps a Redis outage from logging on every attempt.
type logLimiter struct{ n atomic.Int64 }

func (l *logLimiter) ok() bool { n := l.n.Add(1); return n <= 10 || n%1000 == 0 }

// timeout returns ctx bounded by the Redis call timeout.
func (f *Feed) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, f.opt.Timeout)
}

func (f *Feed) key(parts ...string) string {
	s := f.opt.Prefix
	for i, p := range parts {
		if i > 0 {
			s += ":"
		}
		s += p
	}
	return s
}

func (f *Feed) streamKey(p int) string { return f.key("events", strconv.Itoa(p)) }
func (f *Feed) ownerKey(p int) string  { return f.key("detect", "owner", strconv.Itoa(p)) }
func (f *Feed) cursorKey(p int) string { return f.key("detect", "cursor", strconv.Itoa(p)) }
func (f *Feed) membersKey() string     { return f.key("detect", "members") }

// ProfileFirst wraps the key store given to the detector so that, before a
// decision changes a key, the key's profile is written to the store: the
// other instances' step-up checks, woken by the key change, then read what
// the owner learned rather than a copy up to one flush interval old. det
// is called at each decision (the detector is built after its key store).
func ProfileFirst(ks store.Keys, det func() *detect.Detector) store.Keys {
	return profileFirst{Keys: ks, det: det}
}

type profileFirst struct {
	store.Keys
	det func() *detect.Detector
}

func (k profileFirst) UpdateKey(ctx context.Context, id string, fn func(*keys.Key) error) (*keys.Key, error) {
	if d := k.det(); d != nil {
		if err := d.FlushKeys(ctx, func(x string) bool { return x == id }); err != nil {
			slog.Warn("partition: saving the profile before a decision", "key_id", id, "err", err)
		}
	}
	return k.Keys.UpdateKey(ctx, id, fn)
}
