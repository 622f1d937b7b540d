package warden_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store/sqlite/sqlitetest"
	"github.com/wardenhq/warden/internal/warden"
)

// benchBody is bench/gateway's request: about 1 KB, a system persona and
// meeting notes to summarise, as applications send it.
const benchBody = `{"model":"mock-echo","max_tokens":200,"messages":[{"role":"system","content":"You are a concise, helpful assistant."},` +
	`{"role":"user","content":"Summarise these meeting notes in three bullet points:\nAttendees: Ana, Ben, Chloe, Dev. ` +
	`Ben will send the Q3 budget draft by Friday; finance wants the travel line cut by ten percent and the contractor line kept flat. ` +
	`We agreed to move the launch to 14 October because the payment provider needs another week of testing, and support asked for two days of overlap with the old checkout. ` +
	`Chloe owns the customer email and will share a draft on Wednesday; legal must review the refund wording before it goes out. ` +
	`Dev reported that the staging database ran out of disk twice last week; he will add an alert at 80 percent and move the nightly export to the new bucket. ` +
	`Open questions: who signs off the pricing page, whether the beta users keep their discount, and when the mobile release follows. ` +
	`Next meeting Thursday at 10:00 in the small room; Ana sends the agenda the day before."}]}`

// BenchmarkServeDefault is the whole assembly of `warden serve` with its
// default configuration (guard on prompts and answers, detector, audit log
// with every answer waiting for its durable entry, usage, metrics) and the
// built-in mock upstream, driven in process without sockets: Warden's own
// CPU and allocations per request, the figure to profile stage by stage
// (`-cpuprofile`). bench/gateway measures the same assembly over HTTP.
func BenchmarkServeDefault(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	db := sqlitetest.OpenDir(b, dir)
	cfg := config.Default()
	cfg.Data = dir
	w, err := warden.New(ctx, warden.Options{Config: cfg, Store: db, PseudonymKey: []byte("bench"), Registry: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	w.Start()
	_, sec, err := keys.Create(ctx, w.Keys, keys.Spec{Name: "bench", RPM: 1 << 30, TPM: 1 << 30}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	auth := "Bearer " + sec.Reveal()
	b.ReportAllocs()
	b.SetParallelism(16) // requests wait on their audit commit; keep both cores busy
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(benchBody))
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
	if st := w.Audit.Stats(); st.Batches > 0 && st.Integrations > 0 {
		b.ReportMetric(float64(st.Appended)/float64(st.Batches), "entries/commit")
		b.ReportMetric(float64(st.Integrated)/float64(st.Integrations), "entries/integration")
	}
}
