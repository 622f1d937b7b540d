package warden_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store/sqlite/sqlitetest"
	"github.com/wardenhq/warden/internal/warden"
	"github.com/wardenhq/warden/internal/workload"
)

// TestNewRejectsUnknownFieldsInFeatureSections: config keeps the feature
// sections raw, so the assembly must decode them as strictly as config
// decodes the rest of the file, and name the section.
func TestNewRejectsUnknownFieldsInFeatureSections(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"detect", "detect:\n  policy:\n    step_up_att: 40\n", "detect"},
		{"audit", "audit:\n  origni: x\n", "audit"},
		{"moderators", "guard:\n  moderators:\n    - name: m\n      knid: openai\n", "guard.moderators"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(tt.doc), nil)
			if err != nil {
				t.Fatalf("config.Parse should leave the section to its owner: %v", err)
			}
			_, err = warden.DecodeSections(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("DecodeSections: %v, want an error naming %q", err, tt.want)
			}
			dir := t.TempDir()
			db := sqlitetest.OpenDir(t, dir)
			cfg.Data = dir
			if w, err := warden.New(context.Background(), warden.Options{Config: cfg, Store: db}); err == nil {
				w.Close()
				t.Fatal("New accepted an unknown field")
			}
		})
	}
}

// TestNewSubscribesTheDetectorFirst: the detector must see an event
// before any other subscriber, synchronously, so its decision holds for
// the key's next request; the events file is asynchronous; the gateway's
// usage ledger and metrics read the same events.
func TestNewSubscribesTheDetectorFirst(t *testing.T) {
	dir := t.TempDir()
	db := sqlitetest.OpenDir(t, dir)
	cfg := config.Default()
	cfg.Data = dir
	cfg.Events = dir + "/events.jsonl"
	w, err := warden.New(context.Background(), warden.Options{Config: cfg, Store: db, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var names []string
	for _, s := range w.Bus.Subscriptions() {
		names = append(names, s.Name())
	}
	if strings.Join(names, ",") != "detector,events-file,usage,metrics" {
		t.Fatalf("subscribers %v, want detector, events-file, usage, metrics", names)
	}
	w.Bus.Publish(context.Background(), &event.Event{ID: "x", KeyID: "k", Time: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)})
	if w.Bus.Dropped() != 0 {
		t.Fatal("dropped an event")
	}
}

// start assembles and starts `warden serve` with its default
// configuration (changed by edit, if not nil) on an embedded store in a
// temporary directory, its metrics in reg; it is closed when the test ends.
func start(tb testing.TB, reg *prometheus.Registry, edit func(*config.Config)) *warden.Warden {
	tb.Helper()
	dir := tb.TempDir()
	cfg := config.Default()
	cfg.Data = dir
	if edit != nil {
		edit(cfg)
	}
	w, err := warden.New(context.Background(), warden.Options{Config: cfg, Store: sqlitetest.OpenDir(tb, dir), PseudonymKey: []byte("test"), Registry: reg})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { w.Close() })
	w.Start()
	return w
}

// TestGuardMemoPerKey: through the assembled gateway, a conversation's
// second request finds its system prompt and first turn judged (the memo
// metrics say so), and another key sending the same texts does not.
func TestGuardMemoPerKey(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	w := start(t, reg, nil)
	secret := func(name string) string {
		_, sec, err := keys.Create(ctx, w.Keys, keys.Spec{Name: name}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return sec.Reveal()
	}
	a, b := secret("app-a"), secret("app-b")
	send := func(key string, messages string) {
		t.Helper()
		req := httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(`{"model":"`+workload.Model+`","messages":`+messages+`}`))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		w.Gateway.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	memo := func() (hits, misses float64) {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			switch mf.GetName() {
			case "warden_guard_memo_hits_total":
				hits = mf.GetMetric()[0].GetCounter().GetValue()
			case "warden_guard_memo_misses_total":
				misses = mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		return hits, misses
	}
	const first = `{"role":"system","content":"You are Acme's support assistant."},{"role":"user","content":"Where is my order 1234?"}`
	send(a, `[`+first+`]`)
	if h, m := memo(); h != 0 || m != 2 {
		t.Fatalf("first request: %v hits, %v misses; want 0 and 2", h, m)
	}
	send(a, `[`+first+`,{"role":"assistant","content":"It ships tomorrow."},{"role":"user","content":"Thanks! Can I change the address?"}]`)
	if h, m := memo(); h != 2 || m != 4 {
		t.Fatalf("second turn: %v hits, %v misses; want 2 and 4", h, m)
	}
	send(b, `[`+first+`]`)
	if h, m := memo(); h != 2 || m != 6 {
		t.Fatalf("another key, same texts: %v hits, %v misses; want 2 and 6 (nothing found)", h, m)
	}
}

// BenchmarkServeDefault is the whole assembly of `warden serve` with its
// default configuration (guard on prompts and answers, detector, audit log
// with every answer waiting for its durable entry, usage, metrics) and the
// built-in mock upstream, driven in process without sockets: Warden's own
// CPU and allocations per request, the figure to profile stage by stage
// (`-cpuprofile`). bench/gateway measures the same assembly over HTTP.
func BenchmarkServeDefault(b *testing.B) {
	w := start(b, prometheus.NewRegistry(), nil)
	// A user turn of its own each time (workload.ChatBodyN).
	serveParallel(b, w, workload.ChatBodyN)
	if st := w.Audit.Stats(); st.Batches > 0 && st.Integrations > 0 {
		b.ReportMetric(float64(st.Appended)/float64(st.Batches), "entries/commit")
		b.ReportMetric(float64(st.Integrated)/float64(st.Integrations), "entries/integration")
	}
}

// serveParallel sends body(1), body(2), ... as chat completions of one
// unlimited key to w's gateway, 16 goroutines per core (requests wait on
// their audit commit; this keeps both cores busy), until b is done.
func serveParallel(b *testing.B, w *warden.Warden, body func(uint64) string) {
	_, sec, err := keys.Create(context.Background(), w.Keys, keys.Spec{Name: "bench", RPM: 1 << 30, TPM: 1 << 30}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	auth := "Bearer " + sec.Reveal()
	var n atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(body(n.Add(1))))
			req.Header.Set("Authorization", auth)
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			w.Gateway.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("status %d: %s", rec.Code, rec.Body)
				return
			}
		}
	})
	b.StopTimer()
}

// BenchmarkServeConversation is the default assembly answering the
// twentieth request of a chat: a system prompt, nineteen earlier turns
// (user and assistant, 200 to 300 bytes each) and a new user turn, with the
// guard's memo (the default) and without (guard.memo_entries: -1). The
// earlier turns are what every request of a conversation sends again.
func BenchmarkServeConversation(b *testing.B) {
	type message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	history := []message{{"system", workload.Persona}}
	for i := range 19 {
		role := "user"
		if i%2 == 1 {
			role = "assistant"
		}
		history = append(history, message{role, fmt.Sprintf("Turn %d. %s", i, workload.Notes[100+10*i:350+10*i])})
	}
	body := func(n uint64) string {
		msgs := append(history[:len(history):len(history)], message{"user", fmt.Sprintf("And what about item %d of the notes?", n)})
		b, err := json.Marshal(map[string]any{"model": workload.Model, "max_tokens": 200, "messages": msgs})
		if err != nil {
			panic(err)
		}
		return string(b)
	}
	for _, memo := range []int{0, -1} {
		b.Run(fmt.Sprintf("memo_entries=%d", memo), func(b *testing.B) {
			w := start(b, prometheus.NewRegistry(), func(c *config.Config) { c.Guard.MemoEntries = memo })
			serveParallel(b, w, body)
		})
	}
}
