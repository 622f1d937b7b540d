package provider

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/clock"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/testenv"
)

// upstream is a real HTTP server whose answer the test controls; it
// records every request.
type upstream struct {
	*testenv.Recorder
	status atomic.Int64
}

func newUpstream(t *testing.T, status int, h http.Header) *upstream {
	u := &upstream{}
	u.status.Store(int64(status))
	u.Recorder = testenv.NewRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		for k, v := range h {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(u.status.Load()))
		io.WriteString(w, `{"ok":true}`)
	})
	return u
}

// hits is the number of requests the upstream received.
func (u *upstream) hits() int { return len(u.Requests()) }

// models returns the "model" of each request body.
func (u *upstream) models() []string {
	var out []string
	for _, r := range u.Requests() {
		var b struct {
			Model string `json:"model"`
		}
		json.Unmarshal(r.Body, &b)
		out = append(out, b.Model)
	}
	return out
}

func (u *upstream) target(t *testing.T, name, up string, prio, weight int) Target {
	p, err := New(config.Provider{Name: name, Type: "openai", BaseURL: u.URL}, u.Client())
	if err != nil {
		t.Fatal(err)
	}
	return Target{Name: name, Provider: p, Upstream: up, Priority: prio, Weight: weight}
}

func call(t *testing.T, p *Pool) (int, []Attempt) {
	t.Helper()
	var as []Attempt
	resp, err := p.Do(context.Background(), &Request{Endpoint: ChatCompletions, Upstream: "gpt-4o",
		Body: []byte(`{"model":"gpt-4o","messages":[]}`), OnAttempt: func(a Attempt) { as = append(as, a) }})
	if err != nil {
		return 0, as
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, as
}

func TestPoolRetryAfterRestsDeployment(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header http.Header
		rest   time.Duration
	}{
		{"retry-after seconds", http.Header{"Retry-After": {"20"}}, 20 * time.Second},
		{"retry-after-ms", http.Header{"Retry-After-Ms": {"1500"}}, 1500 * time.Millisecond},
		{"no header: default cooldown", nil, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := newUpstream(t, 429, tc.header)
			second := newUpstream(t, 200, nil)
			clk := clock.NewVirtual(time.Unix(1e9, 0))
			p := NewPool([]Target{first.target(t, "east", "gpt-4o-ptu", 1, 1), second.target(t, "west", "gpt-4o", 2, 1)},
				config.Pool{}, clk.Now)
			for i := range 20 {
				st, as := call(t, p)
				if st != 200 {
					t.Fatalf("request %d: status %d", i, st)
				}
				if got := as[len(as)-1].Deployment(); got != "west/gpt-4o" {
					t.Fatalf("answered by %s", got)
				}
				clk.Advance(tc.rest / 40) // stays inside the cool-down
			}
			if n := first.hits(); n != 1 {
				t.Fatalf("first deployment got %d requests during its cool-down, want 1 (the 429)", n)
			}
			clk.Advance(tc.rest)
			first.status.Store(200)
			st, as := call(t, p)
			if st != 200 || len(as) != 1 || as[0].Provider != "east" || first.hits() != 2 {
				t.Fatalf("after cool-down: status %d attempts %+v hits %d", st, as, first.hits())
			}
			// The pool rewrote "model" for each deployment.
			if fm, sm := first.models(), second.models(); fm[0] != "gpt-4o-ptu" || sm[0] != "gpt-4o" {
				t.Fatalf("models sent: %v %v", fm, sm)
			}
		})
	}
}

func TestPoolBreakerOpensAndCloses(t *testing.T) {
	first := newUpstream(t, 500, nil)
	second := newUpstream(t, 200, nil)
	clk := clock.NewVirtual(time.Unix(1e9, 0))
	p := NewPool([]Target{first.target(t, "east", "gpt-4o", 1, 1), second.target(t, "west", "gpt-4o", 2, 1)},
		config.Pool{FailureThreshold: 3, OpenFor: 30 * time.Second}, clk.Now)
	for range 10 {
		if st, _ := call(t, p); st != 200 {
			t.Fatalf("status %d", st)
		}
	}
	if n := first.hits(); n != 3 {
		t.Fatalf("failing deployment got %d requests, want 3 before the breaker opened", n)
	}
	clk.Advance(30 * time.Second) // half-open: one probe, which fails
	call(t, p)
	call(t, p)
	if n := first.hits(); n != 4 {
		t.Fatalf("half-open: %d requests, want exactly one probe", n)
	}
	first.status.Store(200) // recovers
	clk.Advance(29 * time.Second)
	call(t, p)
	if n := first.hits(); n != 4 {
		t.Fatalf("breaker reopened for 30s but got a request after 29s")
	}
	clk.Advance(time.Second)
	for range 5 {
		_, as := call(t, p)
		if len(as) != 1 || as[0].Provider != "east" {
			t.Fatalf("after recovery: %+v", as)
		}
	}
	if n := first.hits(); n != 9 {
		t.Fatalf("recovered deployment got %d requests, want 9 (4 + 5)", n)
	}
}

func TestPoolConnectFailureMovesOn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	dp, err := New(config.Provider{Name: "dead", Type: "openai", BaseURL: dead}, http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	second := newUpstream(t, 200, nil)
	p := NewPool([]Target{{Name: "dead", Provider: dp, Upstream: "m", Priority: 0, Weight: 1}, second.target(t, "west", "m", 1, 1)},
		config.Pool{}, nil)
	st, as := call(t, p)
	if st != 200 || len(as) != 2 || as[0].Status != 0 || as[0].Err == nil || as[1].Status != 200 {
		t.Fatalf("status %d attempts %+v", st, as)
	}
}

func TestPoolAllFailingReturnsLastAnswer(t *testing.T) {
	a := newUpstream(t, 503, nil)
	b := newUpstream(t, 429, http.Header{"Retry-After": {"5"}})
	p := NewPool([]Target{a.target(t, "a", "m", 0, 1), b.target(t, "b", "m", 1, 1)}, config.Pool{}, nil)
	st, as := call(t, p)
	if st != 429 || len(as) != 2 {
		t.Fatalf("status %d attempts %+v", st, as)
	}
	// Both rest now; the pool still tries the one back first rather than refuse.
	st, as = call(t, p)
	if len(as) != 1 || st == 0 {
		t.Fatalf("all resting: status %d attempts %+v", st, as)
	}
}

func TestPoolWeights(t *testing.T) {
	a := newUpstream(t, 200, nil)
	b := newUpstream(t, 200, nil)
	p := NewPool([]Target{a.target(t, "a", "m", 2, 3), b.target(t, "b", "m", 2, 1)}, config.Pool{}, nil)
	const n = 400
	for range n {
		call(t, p)
	}
	// Expect 300/100; a binomial(400, .75) is within ±45 of 300 with
	// probability above 1-1e-6.
	if got := a.hits(); got < 255 || got > 345 || got+b.hits() != n {
		t.Fatalf("weight 3:1 gave %d:%d", got, b.hits())
	}
}

func FuzzWithModel(f *testing.F) {
	for _, s := range []string{`{"model":"a","messages":[]}`, `{}`, `[]`, `null`, `"x"`, `{"model":{"deep":[1,2]}}`, `{`, ``} {
		f.Add([]byte(s), "gpt-4o")
	}
	f.Fuzz(func(t *testing.T, body []byte, upstream string) {
		out := withModel(body, upstream)
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) != nil || m == nil {
			if string(out) != string(body) {
				t.Fatalf("non-object body changed: %q -> %q", body, out)
			}
			return
		}
		var got struct {
			Model string `json:"model"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("output not JSON: %v", err)
		}
		var want string // upstream as JSON carries it (invalid UTF-8 becomes U+FFFD)
		json.Unmarshal(mustMarshal(upstream), &want)
		if got.Model != want {
			t.Fatalf("model %q, want %q", got.Model, want)
		}
	})
}

func mustMarshal(s string) []byte { b, _ := json.Marshal(s); return b }
