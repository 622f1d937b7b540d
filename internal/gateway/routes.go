package gateway

import (
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/guard"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/provider"
	"github.com/wardenhq/warden/internal/provider/mock"
)

// table is the part of the running configuration that a reload replaces:
// the providers and their deployment pools, the model names, the prices and
// the guard policy. Each request takes the table current when it arrives
// and keeps it to its end, so a reload never changes a request, or a
// stream, half-way.
type table struct {
	cfg         *config.Config // prices and the guard settings
	routes      map[string]*route
	models      []string // sorted client-facing names
	guardPolicy func(k *keys.Key) *guard.Policy
}

// buildTable provisions cfg's providers and models. Every model becomes a
// provider.Pool over its deployments (one deployment: a pass-through).
func (s *Server) buildTable(cfg *config.Config, policy func(*keys.Key) *guard.Policy) (*table, error) {
	t := &table{cfg: cfg, routes: map[string]*route{}, guardPolicy: policy}
	pcfgs, models := cfg.Providers, cfg.Models
	if cfg.UsesMock() {
		pcfgs = []config.Provider{{Name: "mock", Type: "mock"}}
		models = nil
		for name, kind := range mock.Models {
			models = append(models, config.Model{Name: name, Provider: "mock", Kind: kind})
		}
	}
	providers := map[string]provider.Provider{}
	for _, pc := range pcfgs {
		p, err := provider.New(pc, s.client)
		if err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
		providers[pc.Name] = p
	}
	for _, m := range models {
		var targets []provider.Target
		for _, d := range m.Targets() {
			p, ok := providers[d.Provider]
			if !ok {
				return nil, fmt.Errorf("gateway: model %q: unknown provider %q", m.Name, d.Provider)
			}
			targets = append(targets, provider.Target{Name: d.Provider, Provider: p, Upstream: d.Upstream,
				Priority: d.Priority, Weight: d.Weight})
		}
		kind := m.Kind
		if kind == "" {
			kind = "chat"
		}
		pool := provider.NewPool(targets, m.Pool, s.opts.Now)
		first := pool.First()
		t.routes[m.Name] = &route{name: m.Name, provider: pool, provName: first.Name, upstream: first.Upstream, kind: kind}
		t.models = append(t.models, m.Name)
	}
	sort.Strings(t.models)
	return t, nil
}

// Reload provisions cfg's providers, models, deployment pools and prices,
// and policy as the guard policy (nil: the default policy), then switches
// new requests to them. Requests already running finish on the
// configuration they started with. On error nothing changes.
//
// Settings read when the server is built (listeners, limits, trusted
// proxies, store) are not reloaded; the caller says so.
func (s *Server) Reload(cfg *config.Config, policy func(*keys.Key) *guard.Policy) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("gateway: reload: %w", err)
	}
	t, err := s.buildTable(cfg, policy)
	if err != nil {
		return fmt.Errorf("gateway: reload: %w", err)
	}
	s.tab.Store(t)
	slog.Info("gateway: configuration reloaded", "models", strings.Join(t.models, ","))
	return nil
}

// tried records one upstream attempt in the event; the last one names the
// deployment that answered.
func (x *exchange) tried(a provider.Attempt) {
	x.ev.Tries = append(x.ev.Tries, event.Try{Deployment: a.Deployment(), Status: a.Status})
	x.ev.Provider, x.ev.Upstream = a.Provider, a.Upstream
}

// relayHeaders copies to the client the upstream headers worth knowing:
// Azure's region and the rate-limit state (Azure and OpenAI both send
// x-ratelimit-*), so SDKs can pace themselves. Nothing else crosses.
func relayHeaders(dst, src http.Header) {
	for k, v := range src {
		lk := strings.ToLower(k)
		if lk == "x-ms-region" || strings.HasPrefix(lk, "x-ratelimit-") {
			dst[k] = v
		}
	}
}
