package gateway

import (
	"context"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/provider"
)

// Metrics are the gateway's Prometheus series. They are fed from Events, so
// they count exactly what the audit log and the detector see.
type Metrics struct {
	requests  *prometheus.CounterVec
	refusals  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	upstream  *prometheus.HistogramVec
	tokens    *prometheus.CounterVec
	cost      *prometheus.CounterVec
	streamCut prometheus.Counter
	tries     *prometheus.CounterVec
	guardCut  prometheus.Counter
}

// NewMetrics registers the gateway's series with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "warden_requests_total",
			Help: "API requests by key, model, endpoint and HTTP status."}, []string{"key", "model", "endpoint", "status"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "warden_refusals_total",
			Help: "Requests Warden refused, by key and the stage that refused (auth, scope, limit, budget, guard, input)."}, []string{"key", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "warden_request_duration_seconds",
			Help: "Time from request arrival to the last byte of the answer.", Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 14)}, []string{"endpoint"}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "warden_upstream_duration_seconds",
			Help: "Time until the upstream's response headers.", Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 14)}, []string{"provider"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "warden_tokens_total",
			Help: "Tokens used, by key, model and kind (prompt, completion)."}, []string{"key", "model", "kind"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "warden_cost_usd_total",
			Help: "Spend in USD by key and model, from the configured price table."}, []string{"key", "model"}),
		streamCut: prometheus.NewCounter(prometheus.CounterOpts{Name: "warden_streams_cut_total",
			Help: "Streams that ended before the upstream finished (client gone, upstream broke, or guard)."}),
	}
	m.tries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "warden_upstream_attempts_total",
		Help: "Upstream attempts by model, deployment (provider/upstream) and status (0: no answer)."}, []string{"model", "deployment", "status"})
	m.guardCut = prometheus.NewCounter(prometheus.CounterOpts{Name: "warden_streams_filtered_total",
		Help: "Streams the guard ended with finish_reason content_filter."})
	reg.MustRegister(m.requests, m.refusals, m.latency, m.upstream, m.tokens, m.cost, m.streamCut, m.guardCut, m.tries)
	return m
}

// Label values must come from a bounded set, or one client can create
// millions of series: every value below is either configuration (key ids,
// model and provider names) or one of a fixed list (endpoints, stages,
// HTTP statuses). Anything a client chose is mapped to otherLabel first.
const otherLabel = "other"

// modelLabel is the metric label of a model name: the name itself when it
// is configured, otherLabel when it is whatever the client sent (an
// unknown model, or any name a canary key asked for).
func (s *Server) modelLabel(name string) string {
	if name == "" {
		return ""
	}
	if _, ok := s.tab.Load().routes[name]; ok {
		return name
	}
	return otherLabel
}

// endpointLabel is the metric label of an endpoint: one of the routed
// endpoints, "" for a request no route matched, otherLabel otherwise.
func endpointLabel(e string) string {
	switch e {
	case "", "models", "deployments":
		return e
	}
	for _, ep := range provider.Endpoints {
		if e == string(ep) {
			return e
		}
	}
	return otherLabel
}

// statusLabel is an HTTP status as a label; upstreams may send any
// three-digit code, anything else is otherLabel.
func statusLabel(s int) string {
	if s < 100 || s > 999 {
		return otherLabel
	}
	return strconv.Itoa(s)
}

// metricsSink feeds the bus's events to the metrics, with the model named
// by its bounded label.
type metricsSink struct{ s *Server }

func (ms metricsSink) Handle(_ context.Context, e *event.Event) {
	ms.s.opts.Metrics.observe(e, ms.s.modelLabel(e.Model))
}

func (m *Metrics) observe(e *event.Event, model string) {
	if m == nil {
		return
	}
	endpoint := endpointLabel(e.Endpoint)
	m.requests.WithLabelValues(e.KeyID, model, endpoint, statusLabel(e.Status)).Inc()
	if e.Refusal != "" {
		m.refusals.WithLabelValues(e.KeyID, e.Refusal).Inc()
	}
	m.latency.WithLabelValues(endpoint).Observe(e.Duration.Seconds())
	if e.UpstreamTime > 0 {
		m.upstream.WithLabelValues(e.Provider).Observe(e.UpstreamTime.Seconds())
	}
	if e.PromptTokens > 0 {
		m.tokens.WithLabelValues(e.KeyID, model, "prompt").Add(float64(e.PromptTokens))
	}
	if e.CompletionTokens > 0 {
		m.tokens.WithLabelValues(e.KeyID, model, "completion").Add(float64(e.CompletionTokens))
	}
	if e.CostUSD > 0 {
		m.cost.WithLabelValues(e.KeyID, model).Add(e.CostUSD)
	}
	if e.StreamCut {
		m.streamCut.Inc()
	}
	for _, t := range e.Tries {
		m.tries.WithLabelValues(e.Model, t.Deployment, strconv.Itoa(t.Status)).Inc()
	}
}

func (m *Metrics) streamCutByGuard() {
	if m != nil {
		m.guardCut.Inc()
	}
}
