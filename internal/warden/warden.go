// Package warden assembles Warden: from a configuration and a store, New
// builds the one request pipeline (package gateway) and everything that
// hangs off it, once, in one place:
//
//	client ─► gateway: identify ─► authorize ─► read ─► limit ─► guard ─► provider ─► guard ─► account
//	                       ▲                                                                   │
//	                       │ key changes (fanout watcher)              journal (audit log) ◄───┤ before the answer
//	                       │                                                                   ▼
//	                   key store ◄── detector decisions ◄── [sync] ─── event.Bus ─── [async] ─► events file,
//	                                                                                           live view, ...
//
// `warden serve` runs it on the wall clock behind real listeners; `warden
// replay`, `warden simulate score` and `warden demo` run the very same
// Warden in process, replay on a clock.Virtual set to each recorded
// request's time, so limits, key and token expiry, detector windows and
// audit timestamps all read event time. There is no second pipeline.
//
// Nothing is patched after New: every part gets what it needs as it is
// built, and the few back-references (the detector's decisions drop the
// gateway's cached key; identity looks keys up through the gateway) go
// through the Warden itself.
package warden

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/internal/alert"
	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/clock"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/detect"
	"github.com/wardenhq/warden/internal/detect/partition"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/fanout"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/guard"
	"github.com/wardenhq/warden/internal/identity"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/limit"
	"github.com/wardenhq/warden/internal/record"
	"github.com/wardenhq/warden/internal/store"
)

// Options are what New needs. Config and Store are required.
type Options struct {
	Config *config.Config
	// Store keeps keys, usage, the audit log, detector profiles and
	// incidents (SQLite or PostgreSQL).
	Store store.Store
	// Clock is read by every time-dependent part. nil: the wall clock.
	// Replay passes a *clock.Virtual it sets to each record's time.
	Clock clock.Clock
	// Rater and Gate enforce limits; nil: in-process limits.
	Rater limit.Rater
	Gate  limit.Gate
	// Redis, when set, publishes every key change so all instances drop
	// their cached copy at once; nil: instances learn of changes by
	// polling the store's change log.
	Redis redis.UniversalClient
	// Registry receives the gateway's metrics; nil: none.
	Registry prometheus.Registerer
	// PseudonymKey keys the pseudonymous user id sent upstream; instances
	// behind one load balancer must share it.
	PseudonymKey []byte
	// Recorder receives every request as a replayable record (serve
	// --record); nil: none. It must not block.
	Recorder func(*record.Record)
	// OnDecision also receives every detector decision, after it was
	// applied (replay writes them out); nil: only the alert sinks do.
	OnDecision func(ctx context.Context, d detect.Decision)
	// NoAlerts leaves the configured alert sinks off (replay reports
	// decisions; it pages nobody).
	NoAlerts bool
	// Extra routes on the main listener, served before the API (they get
	// no event). The GitHub secret-scanning endpoint and the token
	// endpoint, when configured, are added to them.
	Extra map[string]http.Handler
	// Logger; nil: slog.Default().
	Logger *slog.Logger
}

// Warden is an assembled gateway with its consumers. Build it with New,
// run its background work with Start, and Close it.
type Warden struct {
	Config   *config.Config
	Sections Sections
	// Store is the store as given; Keys is what changes keys through it
	// (with Redis, every change is also published).
	Store    store.Store
	Keys     store.Store
	Clock    clock.Clock
	Bus      *event.Bus
	Gateway  *gateway.Server
	Detector *detect.Detector
	// Feed, with Redis, feeds the detector from the partitions of the
	// cluster's event streams this instance owns (package partition);
	// nil without Redis, where the detector handles this instance's events.
	Feed     *partition.Feed
	Alerts   *alert.Dispatcher // nil with NoAlerts
	Audit    *audit.Log
	Identity *identity.Set

	redis   redis.UniversalClient
	pool    *partition.Pool // the detector's cross-key pool with Redis
	log     *slog.Logger
	closers []func() // run in reverse by Close
	cancel  context.CancelFunc
	bg      sync.WaitGroup
	closed  bool
}

// New assembles a Warden. On error, whatever it opened is closed again.
func New(ctx context.Context, o Options) (_ *Warden, err error) {
	if o.Config == nil || o.Store == nil {
		return nil, errors.New("warden: Config and Store are required")
	}
	cfg := o.Config
	w := &Warden{Config: cfg, Store: o.Store, Keys: o.Store, Clock: o.Clock, Bus: &event.Bus{}, redis: o.Redis, log: o.Logger}
	if w.Clock == nil {
		w.Clock = clock.Wall{}
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	defer func() {
		if err != nil {
			w.closeAll() // w, not the result: a failed New returns nil
		}
	}()
	if w.Sections, err = DecodeSections(cfg); err != nil {
		return nil, err
	}
	if o.Redis != nil {
		w.Keys = fanout.Notify(o.Store, fanout.NewPublisher(o.Redis, ""), nil)
	}

	// Consumers of events, in delivery order: the detector first (sync:
	// its decision holds for the key's next request), then the events file.
	// With Redis the detector is one for the whole cluster: events go to
	// the partitioned streams (async, never on the request path) and the
	// detector is fed from the partitions this instance owns, so a
	// decision holds from the next request that reaches any instance after
	// the owner made it and fan-out delivered it.
	if err := w.openDetection(o); err != nil {
		return nil, err
	}
	if o.Redis != nil {
		w.Feed = partition.New(o.Redis, w.Detector, partition.Options{Instance: cfg.Instance, Logger: w.log})
		w.closers = append(w.closers, w.Feed.Close) // after the bus drained into it
		w.Bus.Subscribe("detector", w.Feed, event.Async(65536))
		registerFeed(o.Registry, w.Feed, w.pool)
	} else {
		w.Bus.Subscribe("detector", w.Detector, event.Sync)
	}
	if cfg.Events != "" {
		f, err := os.OpenFile(cfg.Events, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("warden: events file: %w", err)
		}
		sink := event.NewJSONL(f)
		w.closers = append(w.closers, func() { sink.Close() })
		w.Bus.Subscribe("events-file", sink, event.Async(65536))
	}
	if w.Audit, err = openAudit(ctx, o.Store, cfg, w.Sections.Audit, w.Clock, w.log); err != nil {
		return nil, err
	}
	w.closers = append(w.closers, func() { w.Audit.Close() })

	g, policies, err := newGuard(cfg.Guard)
	if err != nil {
		return nil, err
	}
	registerGuard(o.Registry, g)
	mods, err := newModerators(g, w.Sections.Moderators)
	if err != nil {
		return nil, err
	}
	extra := map[string]http.Handler{}
	for p, h := range o.Extra {
		extra[p] = h
	}
	if err := w.openIdentity(extra); err != nil {
		return nil, err
	}
	w.addSecretScanning(extra)

	var metrics *gateway.Metrics
	if o.Registry != nil {
		metrics = gateway.NewMetrics(o.Registry)
	}
	tracer, stopTracing, err := openTracing(cfg.Tracing, cfg.Instance)
	if err != nil {
		return nil, err
	}
	if stopTracing != nil {
		w.closers = append(w.closers, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := stopTracing(ctx); err != nil {
				w.log.Warn("warden: flushing traces failed", "err", err)
			}
		})
	}
	watcher := fanout.NewWatcher(o.Store, o.Redis, fanout.Options{Poll: pollEvery(o.Redis), Logger: w.log})
	w.Gateway, err = gateway.New(gateway.Options{
		Config:         cfg,
		Store:          w.Keys,
		Bus:            w.Bus,
		Rater:          o.Rater,
		Gate:           o.Gate,
		Metrics:        metrics,
		PseudonymKey:   o.PseudonymKey,
		Now:            w.Clock.Now,
		StepUp:         w.stepUp(),
		Guard:          g,
		GuardPolicy:    policies,
		Moderators:     mods,
		Authenticators: w.authenticators(),
		KeyChanges:     watcher.Run,
		Recorder:       o.Recorder,
		Journal:        journal(w.Audit),
		Extra:          extra,
		Tracer:         tracer,
	})
	if err != nil {
		return nil, fmt.Errorf("warden: %w", err)
	}
	return w, nil
}

// pollEvery is how often an instance reads the store's key change log:
// often without Redis (it is the only way a change made elsewhere
// arrives), rarely with it (the poll only catches what pub/sub lost).
func pollEvery(rdb redis.UniversalClient) time.Duration {
	if rdb == nil {
		return 250 * time.Millisecond
	}
	return 5 * time.Second
}

// openDetection provisions the detector, its alert sinks and where its
// decisions go: the key store (through w.Keys, so they fan out), the
// gateway's key cache (so they hold from the next request on this
// instance), the alert sinks and o.OnDecision.
func (w *Warden) openDetection(o Options) error {
	dcfg := w.Sections.Detect
	if !o.NoAlerts {
		disp, err := alert.New(dcfg.Alerts, os.Getenv, w.log)
		if err != nil {
			return fmt.Errorf("warden: alerts: %w", err)
		}
		w.Alerts = disp
		w.closers = append(w.closers, func() { disp.Close() })
	}
	var (
		ks   store.Keys  = w.Keys
		pool detect.Pool // nil: in process
	)
	if o.Redis != nil {
		ks = partition.ProfileFirst(w.Keys, func() *detect.Detector { return w.Detector })
		w.pool = partition.NewPool(o.Redis, partition.Options{Logger: w.log})
		pool = w.pool
	}
	d, err := detect.New(dcfg, detect.Options{Keys: ks, Store: o.Store, Logger: w.log, Pool: pool,
		OnDecision: func(ctx context.Context, x detect.Decision) {
			if x.Type() == "action" && w.Gateway != nil {
				w.Gateway.InvalidateKey(ctx, x.KeyID)
			}
			if w.Alerts != nil {
				w.Alerts.Notify(x.Alert())
			}
			if o.OnDecision != nil {
				o.OnDecision(ctx, x)
			}
		}})
	if err != nil {
		return fmt.Errorf("warden: detect: %w", err)
	}
	w.Detector = d
	return nil
}

// stepUp is the gateway's step-up check: the partition owner's profile
// in a cluster, the local detector's otherwise.
func (w *Warden) stepUp() func(*keys.Key, netip.Addr, string) bool {
	if w.Feed != nil {
		return w.Feed.AllowsStepUp
	}
	return w.Detector.AllowsStepUp
}

// registerFeed exports the Feed's and the pool's counts; the fallback
// counts say how often detection went local because Redis failed.
func registerFeed(reg prometheus.Registerer, f *partition.Feed, pool *partition.Pool) {
	if reg == nil {
		return
	}
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "warden_detect_stream_produced_total",
			Help: "Events appended to the detector's partitioned streams."}, func() float64 { return float64(f.Stats().Produced) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "warden_detect_stream_fallback_total",
			Help: "Events handed to this instance's own detector because Redis failed."}, func() float64 { return float64(f.Stats().Fallback) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "warden_detect_stream_handled_total",
			Help: "Stream events this instance's detector handled as their partition's owner."}, func() float64 { return float64(f.Stats().Handled) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "warden_detect_pool_fallback_total",
			Help: "Cross-key pool lookups counted in process because Redis failed."}, func() float64 { return float64(pool.Fallback()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "warden_detect_partitions_owned",
			Help: "Detector partitions this instance owns."}, func() float64 { return float64(f.Stats().Owned) }),
	)
}

// registerGuard exports how often the guard found a prompt text in its
// memo instead of judging it (see guard.WithMemoScope).
func registerGuard(reg prometheus.Registerer, g *guard.Guard) {
	if reg == nil || g == nil {
		return
	}
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "warden_guard_memo_hits_total",
			Help: "Prompt texts the guard found judged in the key's memo."}, func() float64 { h, _ := g.MemoStats(); return float64(h) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "warden_guard_memo_misses_total",
			Help: "Prompt texts the guard judged and remembered."}, func() float64 { _, m := g.MemoStats(); return float64(m) }),
	)
}

// Notify sends an alert to the configured sinks; with NoAlerts it does
// nothing.
func (w *Warden) Notify(a alert.Alert) {
	if w.Alerts != nil {
		w.Alerts.Notify(a)
	}
}

// openIdentity provisions workload identity, short-lived tokens and client
// certificates. They look keys up through the gateway's cache, which
// exists by the time the first request arrives.
func (w *Warden) openIdentity(extra map[string]http.Handler) error {
	set, err := identity.New(identity.Options{
		Config:  w.Config.Identity,
		DataDir: w.Config.Data,
		KeyByID: func(ctx context.Context, id string) (*keys.Key, error) { return w.Gateway.KeyByID(ctx, id) },
		KeyByHash: func(ctx context.Context, h keys.Hash) (*keys.Key, error) {
			return w.Gateway.KeyByHash(ctx, h)
		},
		ClientAddr: func(r *http.Request) netip.Addr { return w.Gateway.ClientAddr(r) },
		TLSState:   gateway.TLSState,
		Publish:    w.Bus.Publish,
		Now:        w.Clock.Now,
	})
	if err != nil {
		return fmt.Errorf("warden: identity: %w", err)
	}
	w.Identity = set
	for path, h := range set.Routes() {
		extra[path] = h
		w.log.Info("short-lived token endpoint enabled", "path", path)
	}
	return nil
}

// authenticators are the gateway's Authenticators, in order.
func (w *Warden) authenticators() []gateway.Authenticator {
	var out []gateway.Authenticator
	for _, a := range w.Identity.Authenticators() {
		out = append(out, a)
	}
	return out
}

// openAudit opens the tamper-evident log over st on clk, with the signing
// key from the config or DATA/audit.key (created on first use).
func openAudit(ctx context.Context, st store.Store, cfg *config.Config, c audit.Config, clk clock.Clock, log *slog.Logger) (*audit.Log, error) {
	explicit := c.Origin != ""
	if !explicit {
		c.Origin = audit.DefaultOrigin(cfg.Instance)
	}
	if shared := cfg.Store != ""; shared && (c.SigningKeyFile == "" || !explicit) { // PostgreSQL; the embedded store stages too, for one instance
		// Instances sharing one log must sign its checkpoints with one key
		// under one origin, or each one's checkpoints fail on the others.
		log.Warn("audit: a shared store without audit.origin and audit.signing_key_file: give every instance the same ones (docs/deployment.md)")
	}
	path := c.SigningKeyFile
	if path == "" {
		path = filepath.Join(cfg.Data, audit.KeyFileName)
	}
	signer, vkey, err := audit.LoadOrCreateKey(path, c.Origin)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	l, err := audit.New(ctx, st, c, audit.Options{Signer: signer, VerifierKey: vkey, Now: clk.Now, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return l, nil
}

// journal makes the log the gateway's journal: every event is appended
// (group-committed) before its answer leaves. It is not a bus subscriber
// because it can refuse: a request whose record cannot be written is
// answered 503, and a subscriber cannot fail a request.
func journal(l *audit.Log) gateway.Journal {
	return gateway.JournalFunc(func(ctx context.Context, e *event.Event, prompt, answer []byte) error {
		_, err := l.Append(ctx, e, &audit.Bodies{Prompt: prompt, Answer: answer})
		return err
	})
}

// Start runs the background work until Close: the gateway's key-change
// watcher and usage flusher, the detector's periodic save and the warm-up
// of identity issuers' keys. Replay does not call it: it flushes by hand.
func (w *Warden) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	done := w.Gateway.Start(ctx)
	w.bg.Add(2)
	go func() { defer w.bg.Done(); <-done }()
	if w.Feed != nil {
		go func() { defer w.bg.Done(); w.Feed.Run(ctx) }() // flushes the detector too
	} else {
		go func() { defer w.bg.Done(); w.Detector.Run(ctx, 10*time.Second) }()
	}
	go func() {
		if err := w.Identity.Warm(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("identity: cannot fetch OIDC issuer keys yet; will retry on use", "err", err)
		}
	}()
}

// Flush writes what is pending now: usage and the detector's profiles and
// incidents. Replay calls it at the end; Close calls it too.
func (w *Warden) Flush(ctx context.Context) error {
	w.Gateway.Flush(ctx)
	if err := w.Detector.Flush(ctx); err != nil {
		return fmt.Errorf("warden: saving detector state: %w", err)
	}
	return nil
}

// Close stops the background work, flushes usage and detector state,
// drains the bus's queues and closes the audit log and alert sinks. The
// store is the caller's.
func (w *Warden) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if w.cancel != nil {
		w.cancel()
		w.bg.Wait()
	}
	err := w.Flush(context.Background())
	w.closeAll()
	return err
}

func (w *Warden) closeAll() {
	w.Bus.Close()
	for i := len(w.closers) - 1; i >= 0; i-- {
		w.closers[i]()
	}
	w.closers = nil
}
