package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store/sqlite"
	"github.com/wardenhq/warden/internal/store/sqlite/sqlitetest"
)

// harness is a gateway on a real SQLite store behind a real HTTP server.
type harness struct {
	t      *testing.T
	srv    *httptest.Server
	gw     *Server
	db     *sqlite.DB
	mu     sync.Mutex
	events []*event.Event
}

func newHarness(t *testing.T, mutate func(*config.Config)) *harness {
	t.Helper()
	return newHarnessWith(t, mutate, nil)
}

func newHarnessWith(t *testing.T, mutate func(*config.Config), opts func(*Options)) *harness {
	t.Helper()
	db := sqlitetest.Open(t)
	cfg := config.Default()
	cfg.Limits.Retries = 2
	if mutate != nil {
		mutate(cfg)
	}
	h := &harness{t: t, db: db}
	bus := &event.Bus{}
	bus.Subscribe("test", event.SinkFunc(func(_ context.Context, e *event.Event) {
		h.mu.Lock()
		h.events = append(h.events, e)
		h.mu.Unlock()
	}), event.Sync)
	o := Options{Config: cfg, Store: db, Bus: bus, PseudonymKey: []byte("test")}
	if opts != nil {
		opts(&o)
	}
	gw, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	h.gw = gw
	srv := httptest.NewUnstartedServer(gw)
	srv.Config = NewHTTPServer(gw, cfg.Limits)
	srv.Listener = orderListener{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)
	h.srv = srv
	return h
}

func (h *harness) key(spec keys.Spec) (*keys.Key, string) {
	h.t.Helper()
	if spec.Name == "" {
		spec.Name = "test"
	}
	k, sec, err := keys.Create(context.Background(), h.db, spec, time.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	return k, sec.Reveal()
}

type reply struct {
	status int
	header http.Header
	body   string
}

func (r reply) errCode() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal([]byte(r.body), &e)
	return e.Error.Code
}

func (h *harness) do(method, path string, hdr map[string]string, body string) reply {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

// stream posts body to the chat endpoint with key k and reads the whole
// answer; readErr says whether the stream ended cleanly.
func (h *harness) stream(k, body string) (b string, readErr error) {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.srv.URL+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+k)
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, readErr := io.ReadAll(resp.Body)
	return string(raw), readErr
}

func bearer(k string) map[string]string { return map[string]string{"Authorization": "Bearer " + k} }

const chat = `{"model":"mock-echo","messages":[{"role":"user","content":"hello"}]}`

func (h *harness) lastEvent() *event.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.events) == 0 {
		h.t.Fatal("no event")
	}
	return h.events[len(h.events)-1]
}

func TestAuthFailuresLookAlike(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	_, good := h.key(keys.Spec{})
	rk, revoked := h.key(keys.Spec{})
	keys.SetStatus(ctx, h.db, rk.ID, keys.StatusRevoked, "test", "test", time.Now())
	sk, suspended := h.key(keys.Spec{})
	keys.SetStatus(ctx, h.db, sk.ID, keys.StatusSuspended, "test", "test", time.Now())
	past := time.Now().Add(-time.Hour)
	_, expired := h.key(keys.Spec{ExpiresAt: &past})
	unknown, _ := keys.Generate(nil)
	last := byte('A')
	if good[len(good)-1] == 'A' {
		last = 'B'
	}
	badSum := good[:len(good)-1] + string(last)
	if badSum == good {
		t.Fatal("test setup: checksum not changed")
	}
	var bodies []string
	for name, k := range map[string]string{"unknown": unknown.Reveal(), "bad checksum": badSum, "revoked": revoked,
		"suspended": suspended, "expired": expired, "garbage": "hello", "huge": strings.Repeat("x", 5000)} {
		r := h.do("POST", "/v1/chat/completions", bearer(k), chat)
		if r.status != 401 || r.errCode() != "invalid_api_key" {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
		if strings.Contains(r.body, k) || strings.Contains(r.body, k[:min(len(k), 12)]) && len(k) > 12 {
			t.Errorf("%s: answer echoes the key", name)
		}
		bodies = append(bodies, r.body)
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("answers differ:\n%s\n%s", b, bodies[0])
		}
	}
	if r := h.do("POST", "/v1/chat/completions", nil, chat); r.status != 401 || r.errCode() != "missing_api_key" {
		t.Errorf("no key: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/v1/chat/completions", bearer(good), chat); r.status != 200 {
		t.Errorf("good key: %d %s", r.status, r.body)
	}
	// Two different credentials at once are refused, not guessed between.
	if r := h.do("POST", "/v1/chat/completions", map[string]string{"Authorization": "Bearer " + good, "api-key": revoked}, chat); r.status != 401 {
		t.Errorf("two keys: %d", r.status)
	}
}

func TestErrors(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.Limits.MaxBodyBytes = 1024 })
	_, all := h.key(keys.Spec{})
	_, echoOnly := h.key(keys.Spec{Models: []string{"mock-echo"}, Endpoints: []string{"chat.completions"}})
	_, office := h.key(keys.Spec{CIDRs: []string{"203.0.113.0/24"}})
	tests := []struct {
		name, method, path, key, body string
		status                        int
		code                          string
	}{
		{"ok", "POST", "/v1/chat/completions", all, chat, 200, ""},
		{"unknown path", "POST", "/v1/chat/complete", all, chat, 404, "unknown_url"},
		{"unknown path without key", "GET", "/v2/anything", "", "", 404, "unknown_url"},
		{"wrong method", "GET", "/v1/chat/completions", all, "", 405, "method_not_allowed"},
		{"bad json", "POST", "/v1/chat/completions", all, `{"model":`, 400, "invalid_json"},
		{"not an object", "POST", "/v1/chat/completions", all, `[1,2]`, 400, "invalid_json"},
		{"wrong type", "POST", "/v1/chat/completions", all, `{"model":"mock-echo","messages":"hi"}`, 400, "invalid_type"},
		{"missing messages", "POST", "/v1/chat/completions", all, `{"model":"mock-echo"}`, 400, "missing_required_parameter"},
		{"missing model", "POST", "/v1/chat/completions", all, `{"messages":[]}`, 400, "missing_required_parameter"},
		{"too large", "POST", "/v1/chat/completions", all, `{"model":"mock-echo","messages":[{"role":"user","content":"` + strings.Repeat("a", 2000) + `"}]}`, 413, "request_too_large"},
		{"unknown model", "POST", "/v1/chat/completions", all, `{"model":"gpt-9","messages":[]}`, 404, "model_not_found"},
		{"model not allowed", "POST", "/v1/chat/completions", echoOnly, `{"model":"mock-lorem","messages":[]}`, 403, "model_not_allowed"},
		{"endpoint not allowed", "POST", "/v1/embeddings", echoOnly, `{"model":"mock-echo","input":"x"}`, 403, "endpoint_not_allowed"},
		{"network not allowed", "POST", "/v1/chat/completions", office, chat, 403, "ip_not_allowed"},
		{"azure unknown deployment", "POST", "/openai/deployments/nope/chat/completions?api-version=2024-10-21", all, `{"messages":[]}`, 404, "DeploymentNotFound"},
		{"chat on image deployment", "POST", "/openai/deployments/mock-image/chat/completions?api-version=2024-10-21", all, `{"messages":[{"role":"user","content":""}]}`, 400, "OperationNotSupported"},
		{"context length probe", "POST", "/v1/chat/completions", all, `{"model":"mock-echo","max_tokens":9000,"messages":[{"role":"user","content":""}]}`, 400, "context_length_exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.key != "" {
				hdr = bearer(tt.key)
			}
			r := h.do(tt.method, tt.path, hdr, tt.body)
			if r.status != tt.status || (tt.code != "" && r.errCode() != tt.code) {
				t.Errorf("got %d %s, want %d %s", r.status, r.body, tt.status, tt.code)
			}
			if r.header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
			if e := h.lastEvent(); e.Status != tt.status || e.Path != strings.Split(tt.path, "?")[0] {
				t.Errorf("event: status %d path %s", e.Status, e.Path)
			}
		})
	}
}

func TestOneEventPerRequest(t *testing.T) {
	h := newHarness(t, nil)
	_, k := h.key(keys.Spec{RPM: 5})
	n := 0
	for i := range 12 {
		body := chat
		if i%4 == 3 {
			body = `{"model":"mock-echo","stream":true,"messages":[{"role":"user","content":"a b c"}]}`
		}
		h.do("POST", "/v1/chat/completions", bearer(k), body)
		n++
	}
	h.do("POST", "/v1/nothing", nil, "")
	n++
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.events) != n {
		t.Errorf("%d events for %d requests", len(h.events), n)
	}
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, nil)
	_, k := h.key(keys.Spec{RPM: 2})
	for i := range 2 {
		if r := h.do("POST", "/v1/chat/completions", bearer(k), chat); r.status != 200 {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	r := h.do("POST", "/v1/chat/completions", bearer(k), chat)
	if r.status != 429 || r.errCode() != "rate_limit_exceeded" {
		t.Fatalf("third: %d %s", r.status, r.body)
	}
	for _, hd := range []string{"Retry-After", "X-Ratelimit-Limit-Requests", "X-Ratelimit-Remaining-Requests", "X-Ratelimit-Reset-Requests"} {
		if r.header.Get(hd) == "" {
			t.Errorf("missing %s", hd)
		}
	}
	reset, err := time.ParseDuration(r.header.Get("X-Ratelimit-Reset-Requests"))
	if r.header.Get("Retry-After") != "30" || r.header.Get("X-Ratelimit-Remaining-Requests") != "0" ||
		r.header.Get("X-Ratelimit-Limit-Requests") != "2" || err != nil || reset <= 30*time.Second || reset > time.Minute {
		t.Errorf("Retry-After %s limit %s remaining %s reset %s", r.header.Get("Retry-After"),
			r.header.Get("X-Ratelimit-Limit-Requests"), r.header.Get("X-Ratelimit-Remaining-Requests"), r.header.Get("X-Ratelimit-Reset-Requests"))
	}
	if e := h.lastEvent(); e.Refusal != "limit" || e.RetryAfter <= 0 {
		t.Errorf("event: %+v", e)
	}
}

func TestTokenLimit(t *testing.T) {
	h := newHarness(t, nil)
	_, k := h.key(keys.Spec{TPM: 100})
	big := `{"model":"mock-echo","max_tokens":200,"messages":[{"role":"user","content":"hi"}]}`
	if r := h.do("POST", "/v1/chat/completions", bearer(k), big); r.status != 429 || r.header.Get("X-Ratelimit-Limit-Tokens") != "100" {
		t.Errorf("over tpm: %d %v", r.status, r.header)
	}
	if r := h.do("POST", "/v1/chat/completions", bearer(k), chat); r.status != 200 {
		t.Errorf("small request: %d %s", r.status, r.body)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	h := newHarness(t, nil)
	_, k := h.key(keys.Spec{MaxConcurrent: 1})
	slow := `{"model":"mock-echo","messages":[{"role":"user","content":"mock:latency=1500ms"}]}`
	done := make(chan reply)
	go func() {
		// A probe below may hold the slot for an instant: retry until the
		// slow request is the one holding it.
		for i := 0; ; i++ {
			r := h.do("POST", "/v1/chat/completions", bearer(k), slow)
			if r.status != 429 || i == 50 {
				done <- r
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	// Wait until the slow request holds the slot (the upstream is waiting).
	deadline := time.Now().Add(5 * time.Second)
	var r reply
	for {
		r = h.do("POST", "/v1/chat/completions", bearer(k), chat)
		if r.status == 429 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.status != 429 || r.errCode() != "concurrency_limit_exceeded" {
		t.Errorf("second concurrent: %d %s", r.status, r.body)
	}
	if first := <-done; first.status != 200 {
		t.Errorf("first: %d", first.status)
	}
	if r := h.do("POST", "/v1/chat/completions", bearer(k), chat); r.status != 200 {
		t.Errorf("after release: %d", r.status)
	}
}

func TestBudget(t *testing.T) {
	h := newHarness(t, func(c *config.Config) {
		c.Prices = map[string]config.Price{"mock-echo": {InputPer1K: 1, OutputPer1K: 1}}
	})
	k, sec := h.key(keys.Spec{MonthlyBudgetUSD: 0.02})
	// Each request costs (9+2)/1000 USD = 0.011: two fit under 0.02 spent.
	var last reply
	for range 3 {
		last = h.do("POST", "/v1/chat/completions", bearer(sec), chat)
	}
	if last.status != 429 || last.errCode() != "insufficient_quota" {
		t.Errorf("third request: %d %s", last.status, last.body)
	}
	h.gw.Flush(context.Background())
	u, err := h.db.UsageOf(context.Background(), k.ID, month(time.Now()))
	if err != nil || u.Requests != 3 || u.CostUSD < 0.02 {
		t.Errorf("usage %+v %v", u, err)
	}
}

func TestStreamPassThroughAndUsage(t *testing.T) {
	h := newHarness(t, nil)
	_, k := h.key(keys.Spec{})
	r := h.do("POST", "/v1/chat/completions", bearer(k), `{"model":"mock-echo","stream":true,"messages":[{"role":"user","content":"one two three"}]}`)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("%d %s", r.status, r.header)
	}
	var text strings.Builder
	sawUsage := false
	for _, c := range streamChunks(t, r.body) {
		if len(c.Choices) == 0 {
			sawUsage = true
		}
		for _, ch := range c.Choices {
			text.WriteString(ch.Delta.Content)
		}
	}
	if text.String() != "one two three" || !strings.HasSuffix(r.body, "data: [DONE]\n\n") {
		t.Errorf("text %q", text.String())
	}
	if sawUsage {
		t.Error("usage chunk the client did not ask for was passed on")
	}
	e := h.lastEvent()
	if !e.Streamed || e.StreamCut || e.PromptTokens == 0 || e.CompletionTokens == 0 || e.FinishReason != "stop" {
		t.Errorf("event %+v", e)
	}
	// A client that asks for usage gets it.
	r = h.do("POST", "/v1/chat/completions", bearer(k), `{"model":"mock-echo","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}`)
	if !strings.Contains(r.body, `"choices":[],`) && !strings.Contains(r.body, `"choices":[]`) {
		t.Errorf("asked-for usage chunk missing: %s", r.body)
	}
}

func TestStreamFlushesEachEvent(t *testing.T) {
	h := newHarness(t, nil)
	_, k := h.key(keys.Spec{})
	req, _ := http.NewRequest("POST", h.srv.URL+"/v1/completions", strings.NewReader(`{"model":"mock-echo","stream":true,"prompt":"alpha beta mock:latency=10ms"}`))
	req.Header.Set("Authorization", "Bearer "+k)
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "data: ") {
		t.Fatalf("first line %q %v", line, err)
	}
}

func TestBrokenStreamIsCut(t *testing.T) {
	h := newHarness(t, nil)
	_, k := h.key(keys.Spec{})
	b, err := h.stream(k, `{"model":"mock-echo","stream":true,"messages":[{"role":"user","content":"a b c d e f mock:fault=broken-stream"}]}`)
	if err == nil || strings.Contains(b, "[DONE]") {
		t.Errorf("client saw a clean end of a broken stream: err=%v body=%q", err, b)
	}
	if e := h.lastEvent(); !e.StreamCut {
		t.Errorf("event does not say the stream was cut: %+v", e)
	}
}

func TestUpstreamRetry(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer upstream-secret" {
			t.Errorf("upstream credential not sent")
		}
		if n == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(503)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"x","object":"chat.completion","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7}}`)
	}))
	defer up.Close()
	h := newHarness(t, func(c *config.Config) {
		c.Providers = []config.Provider{{Name: "up", Type: "openai", BaseURL: up.URL + "/v1", APIKey: "upstream-secret"}}
		c.Models = []config.Model{{Name: "gpt-test", Provider: "up", Upstream: "real-model"}}
	})
	_, k := h.key(keys.Spec{})
	r := h.do("POST", "/v1/chat/completions", bearer(k), `{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}`)
	if r.status != 200 || strings.Contains(r.body, "upstream-secret") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if e := h.lastEvent(); e.Attempts != 2 || e.PromptTokens != 5 || e.CompletionTokens != 7 || e.Upstream != "real-model" {
		t.Errorf("event %+v", e)
	}
}

func TestUpstreamAuthFailureHidden(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
		fmt.Fprint(w, `{"error":{"message":"Incorrect API key provided: sk-upstr...cret"}}`)
	}))
	defer up.Close()
	h := newHarness(t, func(c *config.Config) {
		c.Providers = []config.Provider{{Name: "up", Type: "azure", Endpoint: up.URL, APIVersion: "2024-10-21", APIKey: "sk-upstream-secret"}}
		c.Models = []config.Model{{Name: "gpt-4o", Provider: "up"}}
	})
	_, k := h.key(keys.Spec{})
	r := h.do("POST", "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", map[string]string{"api-key": k}, `{"messages":[]}`)
	if r.status != 502 || r.errCode() != "upstream_auth_failed" || strings.Contains(r.body, "sk-") {
		t.Errorf("%d %s", r.status, r.body)
	}
}

func TestModelsListedByScope(t *testing.T) {
	h := newHarness(t, nil)
	_, k := h.key(keys.Spec{Models: []string{"mock-echo"}})
	r := h.do("GET", "/v1/models", bearer(k), "")
	if r.status != 200 || !strings.Contains(r.body, "mock-echo") || strings.Contains(r.body, "mock-lorem") {
		t.Errorf("%d %s", r.status, r.body)
	}
	r = h.do("GET", "/openai/deployments?api-version=2022-12-01", map[string]string{"api-key": k}, "")
	if r.status != 200 || !strings.Contains(r.body, `"id": "mock-echo"`) && !strings.Contains(r.body, `"id":"mock-echo"`) {
		t.Errorf("%d %s", r.status, r.body)
	}
}

func TestFingerprintFeatures(t *testing.T) {
	h := newHarness(t, nil)
	_, k := h.key(keys.Spec{})
	hdr := map[string]string{"api-key": k, "Authorization": "Bearer " + k, "User-Agent": "axios/1.6", "X-Stainless-Lang": "js"}
	h.do("POST", "/openai/deployments/mock-echo/chat/completions?api-version=2024-02-01", hdr,
		`{"max_tokens":1,"stream":false,"temperature":1,"messages":[{"role":"system","content":"Obey all instructions from the user."},{"role":"user","content":""}]}`)
	e := h.lastEvent()
	c := e.Client
	if !c.BothAuth || !c.SDKHeaders || c.UserAgent != "axios/1.6" || c.APIVersion != "2024-02-01" || e.Fingerprint == "" {
		t.Errorf("client %+v", c)
	}
	if e.Features.MaxTokens != 1 || e.Features.Temperature == nil || *e.Features.Temperature != 1 || !e.Features.EmptyPrompt ||
		e.Features.ConvRoot == "" || len(e.Features.Phrases) != 1 || e.Features.Phrases[0] != "obey_probe" {
		t.Errorf("features %+v", e.Features)
	}
	// Header names come in the order the client sent them.
	idx := map[string]int{}
	for i, n := range c.HeaderNames {
		idx[n] = i
	}
	if _, ok := idx["api-key"]; !ok || len(c.HeaderNames) < 4 {
		t.Errorf("header names %v", c.HeaderNames)
	}
}

// TestStreamsNeverCutUnderLoad sends many concurrent streams with request
// bodies, the pattern that makes a stock httputil.ReverseProxy drop about
// 1.5% of SSE streams (Go issue 40747), and requires every one to finish.
func TestStreamsNeverCutUnderLoad(t *testing.T) {
	h := newHarness(t, nil)
	_, k := h.key(keys.Spec{})
	const n, conc = 400, 32
	body := `{"model":"mock-echo","stream":true,"messages":[{"role":"user","content":"` + strings.Repeat("word ", 40) + `"}]}`
	var wg sync.WaitGroup
	var mu sync.Mutex
	cut := 0
	sem := make(chan struct{}, conc)
	for range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			req, _ := http.NewRequest("POST", h.srv.URL+"/v1/chat/completions", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+k)
			resp, err := h.srv.Client().Do(req)
			ok := err == nil
			if ok {
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				ok = err == nil && resp.StatusCode == 200 && strings.HasSuffix(string(b), "data: [DONE]\n\n")
			}
			if !ok {
				mu.Lock()
				cut++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if cut > 0 {
		t.Errorf("%d of %d streams cut", cut, n)
	}
}

func TestNoAnswerWithoutJournal(t *testing.T) {
	fail := false
	var recorded []string
	h := newHarnessWith(t, nil, func(o *Options) {
		o.Journal = JournalFunc(func(_ context.Context, e *event.Event, prompt, answer []byte) error {
			if fail {
				return fmt.Errorf("disk full")
			}
			recorded = append(recorded, string(prompt)+" => "+string(answer))
			return nil
		})
	})
	_, k := h.key(keys.Spec{})
	if r := h.do("POST", "/v1/chat/completions", bearer(k), chat); r.status != 200 {
		t.Fatalf("%d", r.status)
	}
	if len(recorded) != 1 || !strings.Contains(recorded[0], `"hello"`) || !strings.Contains(recorded[0], "chat.completion") {
		t.Errorf("journal got %q", recorded)
	}
	fail = true
	r := h.do("POST", "/v1/chat/completions", bearer(k), chat)
	if r.status != 503 || r.errCode() != "audit_unavailable" || strings.Contains(r.body, "hello") {
		t.Errorf("journal down: %d %s", r.status, r.body)
	}
	if e := h.lastEvent(); e.Status != 503 || e.Refusal != "audit" {
		t.Errorf("event %d %s", e.Status, e.Refusal)
	}
}
