package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/limit"
	"github.com/wardenhq/warden/internal/limit/failover"
	redislimit "github.com/wardenhq/warden/internal/limit/redis"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/backend"
)

// backends is where a server keeps its state: the store (SQLite in the data
// directory, or PostgreSQL when the config's store is a postgres:// URL) and,
// when the config names Redis, limits shared by every instance.
// failLogs counts limiter failures, to keep the log readable in an outage.
var failLogs atomic.Int64

type backends struct {
	store  store.Store
	rater  limit.Rater // nil: in-process limits
	gate   limit.Gate  // nil: in-process limits
	redis  *redis.Client
	lim    *redislimit.Limiter
	settle *limit.Batched // rater, with its settlements batched
}

// openBackends opens what cfg names and registers the limiter's failure
// counter with reg.
func openBackends(ctx context.Context, cfg *config.Config, reg prometheus.Registerer) (*backends, error) {
	target := cfg.Store
	if target == "" {
		target = cfg.Data
	}
	st, err := backend.Open(ctx, target)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", backend.Redact(target), err)
	}
	b := &backends{store: st}
	if cfg.Redis == "" {
		return b, nil
	}
	c, err := redislimit.NewClient(cfg.Redis)
	if err != nil {
		st.Close()
		return nil, err
	}
	policy, err := failover.ParsePolicy(cfg.Limits.OnBackendFailure)
	if err != nil {
		st.Close()
		return nil, err
	}
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "warden_limit_backend_errors_total",
		Help: "Calls to the shared limiter (Redis) that failed and were decided by the failure policy instead."}, []string{"op"})
	if reg != nil {
		reg.MustRegister(errs)
	}
	lim := redislimit.New(c, redislimit.Options{})
	fo, err := failover.New(lim, failover.Options{Policy: policy, OnError: func(op string, err error) {
		errs.WithLabelValues(op).Inc()
		if n := failLogs.Add(1); n <= 10 || n%1000 == 0 { // a Redis outage fails every request: say so, not on every one
			slog.Warn("limits: Redis failed; applying the failure policy", "op", op, "policy", string(policy), "failures", n, "err", err)
		}
	}})
	if err != nil {
		c.Close()
		st.Close()
		return nil, err
	}
	// Settlements of token estimates after the answer are batched: each
	// answer waited for a Redis round trip of its own before it went out.
	b.settle = limit.NewBatched(fo, 0)
	b.redis, b.lim, b.rater, b.gate = c, lim, b.settle, fo
	return b, nil
}

// Close releases everything openBackends opened.
func (b *backends) Close() error {
	if b.settle != nil {
		b.settle.Close() // what is queued goes to Redis before it closes
	}
	if b.lim != nil {
		b.lim.Close()
	}
	if b.redis != nil {
		b.redis.Close()
	}
	return b.store.Close()
}
