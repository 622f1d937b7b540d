package gateway

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/keys"
)

// fakeUpstream answers chat completions with a status the test sets.
type fakeUpstream struct {
	srv    *httptest.Server
	status atomic.Int64
	hits   atomic.Int64
}

func newFakeUpstream(t *testing.T, status int, h http.Header) *fakeUpstream {
	u := &fakeUpstream{}
	u.status.Store(int64(status))
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		st := int(u.status.Load())
		w.Header().Set("Content-Type", "application/json")
		if st != 200 {
			for k, v := range h {
				w.Header()[k] = v
			}
			w.WriteHeader(st)
			fmt.Fprintf(w, `{"error":{"code":"%d","message":"busy"}}`, st)
			return
		}
		fmt.Fprint(w, `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func poolHarness(t *testing.T, first, second *fakeUpstream, clk *testClock, reg *prometheus.Registry) *harness {
	return newHarnessWith(t, func(c *config.Config) {
		c.Limits.Retries = 0
		c.Providers = []config.Provider{
			{Name: "azure-east", Type: "openai", BaseURL: first.srv.URL + "/v1"},
			{Name: "azure-west", Type: "openai", BaseURL: second.srv.URL + "/v1"},
		}
		c.Models = []config.Model{{Name: "gpt-4o", Deployments: []config.Deployment{
			{Provider: "azure-east", Upstream: "gpt-4o-ptu", Priority: 1},
			{Provider: "azure-west", Upstream: "gpt-4o", Priority: 2},
		}, Pool: config.Pool{FailureThreshold: 3, OpenFor: time.Minute}}}
	}, func(o *Options) {
		o.Now = clk.now
		o.Metrics = NewMetrics(reg)
	})
}

const poolChat = `{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}`

func TestPoolSpillsOverOn429(t *testing.T) {
	first := newFakeUpstream(t, 429, http.Header{"Retry-After": {"20"}})
	second := newFakeUpstream(t, 200, nil)
	clk := &testClock{t: time.Now()}
	reg := prometheus.NewRegistry()
	h := poolHarness(t, first, second, clk, reg)
	_, k := h.key(keys.Spec{})
	for i := range 30 {
		r := h.do("POST", "/v1/chat/completions", bearer(k), poolChat)
		if r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
		e := h.lastEvent()
		if e.Provider != "azure-west" || e.Upstream != "gpt-4o" {
			t.Fatalf("request %d answered by %s/%s", i, e.Provider, e.Upstream)
		}
		if i == 0 && (len(e.Tries) != 2 || e.Tries[0].Deployment != "azure-east/gpt-4o-ptu" || e.Tries[0].Status != 429) {
			t.Fatalf("first request tries %+v", e.Tries)
		}
		if i > 0 && len(e.Tries) != 1 {
			t.Fatalf("request %d tried %+v during the cool-down", i, e.Tries)
		}
		clk.advance(500 * time.Millisecond) // 15 s in all: inside Retry-After
	}
	if n := first.hits.Load(); n != 1 {
		t.Fatalf("first deployment got %d requests during its cool-down", n)
	}
	clk.advance(5 * time.Second)
	first.status.Store(200)
	if r := h.do("POST", "/v1/chat/completions", bearer(k), poolChat); r.status != 200 || h.lastEvent().Provider != "azure-east" {
		t.Fatalf("after the cool-down: %d by %s", r.status, h.lastEvent().Provider)
	}
	if got := testutil.ToFloat64(h.gw.opts.Metrics.tries.WithLabelValues("gpt-4o", "azure-west/gpt-4o", "200")); got != 30 {
		t.Errorf("metric: %v answers by azure-west, want 30", got)
	}
	if got := testutil.ToFloat64(h.gw.opts.Metrics.tries.WithLabelValues("gpt-4o", "azure-east/gpt-4o-ptu", "429")); got != 1 {
		t.Errorf("metric: %v 429s from azure-east, want 1", got)
	}
}

func TestPoolBreakerOpensAndRecovers(t *testing.T) {
	first := newFakeUpstream(t, 500, nil)
	second := newFakeUpstream(t, 200, nil)
	clk := &testClock{t: time.Now()}
	h := poolHarness(t, first, second, clk, prometheus.NewRegistry())
	_, k := h.key(keys.Spec{})
	send := func() string {
		t.Helper()
		r := h.do("POST", "/v1/chat/completions", bearer(k), poolChat)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		return h.lastEvent().Provider
	}
	for range 10 {
		send()
	}
	if n := first.hits.Load(); n != 3 {
		t.Fatalf("breaker: failing deployment got %d requests, want 3 then open", n)
	}
	first.status.Store(200) // recovers, but the breaker is still open
	clk.advance(59 * time.Second)
	if p := send(); p != "azure-west" || first.hits.Load() != 3 {
		t.Fatalf("open breaker let a request through to %s", p)
	}
	clk.advance(time.Second)
	if p := send(); p != "azure-east" {
		t.Fatalf("probe after open_for went to %s", p)
	}
	for range 5 {
		if p := send(); p != "azure-east" {
			t.Fatalf("closed breaker: answered by %s", p)
		}
	}
}

func TestAzureDetailsRelayed(t *testing.T) {
	const filtered = `{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":true,"severity":"medium"}}}}}`
	var gotPath, gotVersion, gotKey atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath.Store(r.URL.Path)
		gotVersion.Store(r.URL.Query().Get("api-version"))
		gotKey.Store(r.Header.Get("Api-Key"))
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Ms-Region", "Sweden Central")
		w.Header().Set("X-Ratelimit-Remaining-Requests", "99")
		w.Header().Set("X-Ratelimit-Remaining-Tokens", "79000")
		w.Header().Set("Apim-Request-Id", "internal-id")
		if strings.Contains(r.URL.Path, "filtered") {
			w.WriteHeader(400)
			fmt.Fprint(w, filtered)
			return
		}
		fmt.Fprint(w, `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop","content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`)
	}))
	defer up.Close()
	h := newHarness(t, func(c *config.Config) {
		c.Providers = []config.Provider{{Name: "sweden", Type: "azure", Endpoint: up.URL, APIKey: "az-upstream-key", APIVersion: "2024-10-21"}}
		c.Models = []config.Model{
			{Name: "gpt-4o", Provider: "sweden", Upstream: "gpt-4o-sweden"},
			{Name: "filtered", Provider: "sweden"},
		}
	})
	_, k := h.key(keys.Spec{})
	azure := map[string]string{"Api-Key": k}
	body := `{"messages":[{"role":"user","content":"hello"}]}`
	for _, tc := range []struct{ name, path, body string }{
		{"deployment-name route", "/openai/deployments/gpt-4o/chat/completions?api-version=2025-01-01-preview", body},
		{"model-name route", "/openai/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("POST", tc.path, azure, tc.body)
			if r.status != 200 || !strings.Contains(r.body, "content_filter_results") {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if gotPath.Load() != "/openai/deployments/gpt-4o-sweden/chat/completions" || gotVersion.Load() != "2024-10-21" || gotKey.Load() != "az-upstream-key" {
				t.Fatalf("upstream saw %v api-version=%v key=%v", gotPath.Load(), gotVersion.Load(), gotKey.Load())
			}
			if r.header.Get("X-Ms-Region") != "Sweden Central" || r.header.Get("X-Ratelimit-Remaining-Requests") != "99" ||
				r.header.Get("X-Ratelimit-Remaining-Tokens") != "79000" {
				t.Fatalf("headers not relayed: %v", r.header)
			}
			if r.header.Get("Apim-Request-Id") != "" {
				t.Fatalf("unlisted upstream header crossed: %v", r.header)
			}
		})
	}
	r := h.do("POST", "/openai/deployments/filtered/chat/completions?api-version=2024-10-21", azure, body)
	if r.status != 400 || r.body != filtered {
		t.Fatalf("content filter answer changed: %d %s", r.status, r.body)
	}
	if e := h.lastEvent(); e.ErrorCode != "content_filter" {
		t.Errorf("event error code %q", e.ErrorCode)
	}
}

// TestPoolStreams: a stream moves to the next deployment while nothing has
// been sent (a 429), but once its first byte has gone to the client a
// broken stream is cut, never retried elsewhere.
func TestPoolStreams(t *testing.T) {
	var breakMidway atomic.Bool
	var aHits, bHits atomic.Int64
	stream := func(hits *atomic.Int64, first bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			if first && !breakMidway.Load() {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(429)
				return
			}
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\""+strings.Repeat("leaves fall ", 30)+"\"},\"finish_reason\":null}]}\n\n")
			w.(http.Flusher).Flush()
			if first {
				panic(http.ErrAbortHandler) // the upstream breaks off
			}
			fmt.Fprint(w, "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
		}
	}
	a := httptest.NewServer(stream(&aHits, true))
	defer a.Close()
	b := httptest.NewServer(stream(&bHits, false))
	defer b.Close()
	clk := &testClock{t: time.Now()}
	h := newHarnessWith(t, func(c *config.Config) {
		c.Limits.Retries = 0
		c.Providers = []config.Provider{{Name: "a", Type: "openai", BaseURL: a.URL}, {Name: "b", Type: "openai", BaseURL: b.URL}}
		c.Models = []config.Model{{Name: "gpt-4o", Deployments: []config.Deployment{{Provider: "a", Priority: 1}, {Provider: "b", Priority: 2}}}}
	}, func(o *Options) { o.Now = clk.now })
	_, k := h.key(keys.Spec{})
	const req = `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"autumn"}]}`
	r := h.do("POST", "/v1/chat/completions", bearer(k), req)
	if r.status != 200 || !strings.HasSuffix(r.body, "data: [DONE]\n\n") || aHits.Load() != 1 || bHits.Load() != 1 {
		t.Fatalf("429 before the first byte: %d %q hits %d/%d", r.status, r.body, aHits.Load(), bHits.Load())
	}
	breakMidway.Store(true)
	clk.advance(2 * time.Second)
	body, rerr := h.stream(k, req)
	if rerr == nil || strings.Contains(body, "[DONE]") || !strings.Contains(body, "leaves fall") {
		t.Fatalf("broken stream: err %v body %q", rerr, body)
	}
	if aHits.Load() != 2 || bHits.Load() != 1 {
		t.Fatalf("stream retried after its first byte: hits %d/%d", aHits.Load(), bHits.Load())
	}
	if e := h.lastEvent(); !e.StreamCut || len(e.Tries) != 1 || e.Provider != "a" {
		t.Errorf("event %+v", e)
	}
}
