package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/config"
)

// Attempt is one try of one deployment, reported through Request.OnAttempt.
type Attempt struct {
	Provider string // the deployment's provider name
	Upstream string // the deployment's upstream model or Azure deployment
	Status   int    // the HTTP status; 0 when no response came
	Err      error  // the transport error when Status is 0
}

// Deployment names one member of a pool: "provider/upstream".
func (a Attempt) Deployment() string { return a.Provider + "/" + a.Upstream }

// Target is one deployment of a pool, provisioned.
type Target struct {
	Name     string // provider name, for events and metrics
	Provider Provider
	Upstream string
	Priority int
	Weight   int // at least 1
}

// Pool spreads one model over several deployments and is itself a
// Provider, so the gateway calls it like any adapter.
//
// Do tries deployments by ascending priority, drawing among deployments of
// one priority in proportion to their weights. A 429, a 5xx or a failure to
// get any response moves the request to the next deployment: Do returns
// before the caller has read a byte, so nothing has reached the client yet.
// A 429 rests its deployment for Retry-After (or retry-after-ms, Azure's
// finer form; Pool.Cooldown when absent). FailureThreshold consecutive 5xx
// or connection failures open the deployment's breaker: it gets no request
// for OpenFor, then one probe request; the probe's success closes the
// breaker, its failure opens it again.
//
// When every deployment is resting, Do tries the one that comes back
// first rather than refuse the request itself. A pool of one deployment is
// a plain pass-through: its caller's retries decide.
type Pool struct {
	members []*member
	cfg     config.Pool
	now     func() time.Time
}

// member is a Target with its health.
type member struct {
	Target

	mu        sync.Mutex
	restUntil time.Time // cool-down after a 429
	failures  int       // consecutive failures
	openUntil time.Time // breaker open until; zero when closed
	probing   bool      // a half-open probe is in flight
}

// NewPool provisions a pool. now is the clock (nil: time.Now); zero fields
// of cfg take their defaults.
func NewPool(targets []Target, cfg config.Pool, now func() time.Time) *Pool {
	if now == nil {
		now = time.Now
	}
	if cfg.Cooldown <= 0 {
		cfg.Cooldown = 10 * time.Second
	}
	if cfg.FailureThreshold <= 0 {
		cfg.FailureThreshold = 3
	}
	if cfg.OpenFor <= 0 {
		cfg.OpenFor = 30 * time.Second
	}
	p := &Pool{cfg: cfg, now: now}
	for _, t := range targets {
		if t.Weight < 1 {
			t.Weight = 1
		}
		p.members = append(p.members, &member{Target: t})
	}
	sort.SliceStable(p.members, func(i, j int) bool { return p.members[i].Priority < p.members[j].Priority })
	return p
}

// Do sends r to the pool's deployments in turn; see Pool.
func (p *Pool) Do(ctx context.Context, r *Request) (*http.Response, error) {
	if len(p.members) == 1 {
		return p.try(ctx, p.members[0], r)
	}
	order := p.order()
	tried := 0
	var resp *http.Response
	var err error
	for i, m := range order {
		if !m.take(p.now()) {
			continue
		}
		if resp != nil {
			discard(resp)
		}
		tried++
		resp, err = p.try(ctx, m, r)
		if ctx.Err() != nil || !failed(resp, err) {
			return resp, err
		}
		if !anyAvailable(order[i+1:], p.now()) {
			break
		}
	}
	if tried > 0 {
		return resp, err
	}
	// Every deployment rests: try the one that comes back first.
	m := order[0]
	for _, o := range order[1:] {
		if o.backAt().Before(m.backAt()) {
			m = o
		}
	}
	m.mu.Lock()
	m.probing = true
	m.mu.Unlock()
	return p.try(ctx, m, r)
}

// try sends r to m and records the outcome in m's health, releasing m's
// probe slot.
func (p *Pool) try(ctx context.Context, m *member, r *Request) (*http.Response, error) {
	req := r
	if m.Upstream != r.Upstream {
		c := *r
		c.Upstream = m.Upstream
		c.Body = withModel(r.Body, m.Upstream)
		req = &c
	}
	resp, err := m.Provider.Do(ctx, req)
	a := Attempt{Provider: m.Name, Upstream: m.Upstream, Err: err}
	if resp != nil {
		a.Status = resp.StatusCode
	}
	if r.OnAttempt != nil {
		r.OnAttempt(a)
	}
	now := p.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.probing = false
	switch {
	case err != nil && ctx.Err() != nil:
		// The client left: says nothing about the deployment.
	case err == nil && resp.StatusCode == http.StatusTooManyRequests:
		rest := RetryAfter(resp.Header)
		if rest <= 0 {
			rest = p.cfg.Cooldown
		}
		m.restUntil = now.Add(rest)
		if !m.openUntil.IsZero() && !now.Before(m.openUntil) {
			m.openUntil = now.Add(p.cfg.OpenFor) // a probe answered 429: still out
		}
	case err != nil || resp.StatusCode >= 500:
		m.failures++
		if m.failures >= p.cfg.FailureThreshold || !m.openUntil.IsZero() {
			m.openUntil = now.Add(p.cfg.OpenFor)
		}
	default:
		m.failures = 0
		m.openUntil = time.Time{}
	}
	return resp, err
}

// take reports whether m may get a request at now, claiming the half-open
// probe slot if its breaker has served its time.
func (m *member) take(now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.Before(m.restUntil) {
		return false
	}
	if m.openUntil.IsZero() {
		return true
	}
	if now.Before(m.openUntil) || m.probing {
		return false
	}
	m.probing = true
	return true
}

// available is take without claiming anything.
func (m *member) available(now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !now.Before(m.restUntil) && (m.openUntil.IsZero() || (!now.Before(m.openUntil) && !m.probing))
}

// backAt is when m may next get a request.
func (m *member) backAt() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.openUntil.After(m.restUntil) {
		return m.openUntil
	}
	return m.restUntil
}

func anyAvailable(ms []*member, now time.Time) bool {
	for _, m := range ms {
		if m.available(now) {
			return true
		}
	}
	return false
}

// order returns the members by priority, each priority's members in a
// weighted random order.
func (p *Pool) order() []*member {
	out := make([]*member, 0, len(p.members))
	for i := 0; i < len(p.members); {
		j := i
		for j < len(p.members) && p.members[j].Priority == p.members[i].Priority {
			j++
		}
		group := append([]*member(nil), p.members[i:j]...)
		for len(group) > 0 {
			total := 0
			for _, m := range group {
				total += m.Weight
			}
			n := rand.IntN(total)
			k := 0
			for ; n >= group[k].Weight; k++ {
				n -= group[k].Weight
			}
			out = append(out, group[k])
			group = append(group[:k], group[k+1:]...)
		}
		i = j
	}
	return out
}

// failed reports whether an answer sends the request to the next deployment.
func failed(resp *http.Response, err error) bool {
	return err != nil || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
}

func discard(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// withModel returns body with its "model" set to upstream (a pool's
// deployments may name the model differently), or body unchanged if it is
// not a JSON object.
func withModel(body []byte, upstream string) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil || m == nil {
		return body
	}
	m["model"], _ = json.Marshal(upstream)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(m) != nil {
		return body
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// RetryAfter reads how long an upstream asks to wait: Azure's
// retry-after-ms, or the standard Retry-After in seconds; 0 if neither.
func RetryAfter(h http.Header) time.Duration {
	if ms, err := strconv.Atoi(h.Get("Retry-After-Ms")); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}

// First is the deployment the pool prefers: the first of the lowest
// priority, as configured.
func (p *Pool) First() Target { return p.members[0].Target }
