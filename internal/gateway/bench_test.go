package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/guard"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

// BenchmarkServeChat measures the whole pipeline for one chat request in
// process (no sockets), against the in-process mock: what Warden itself
// costs per request, with allocation counts. Requests carry a client
// traceparent: without a Tracer (every deployment without an OTLP endpoint)
// it is ignored; "+tracing" runs a real SDK provider that records every span
// and exports nowhere, the cost of the spans themselves.
func BenchmarkServeChat(b *testing.B) {
	for _, tc := range []struct {
		name           string
		guard, tracing bool
	}{{"keys+limits", false, false}, {"keys+limits+guard", true, false}, {"keys+limits+tracing", false, true}} {
		b.Run(tc.name, func(b *testing.B) {
			db, err := sqlite.Open(context.Background(), b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			o := Options{Config: config.Default(), Store: db, Bus: &event.Bus{}, PseudonymKey: []byte("b")}
			if tc.guard {
				if o.Guard, err = guard.New(guard.Options{}); err != nil {
					b.Fatal(err)
				}
			}
			if tc.tracing {
				tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
				defer tp.Shutdown(context.Background())
				o.Tracer = tp
			}
			gw, err := New(o)
			if err != nil {
				b.Fatal(err)
			}
			_, sec, err := keys.Create(context.Background(), db, keys.Spec{Name: "b", RPM: 1 << 30, TPM: 1 << 30, MaxConcurrent: 1 << 20}, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			const body = `{"model":"mock-echo","max_tokens":64,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Summarise the plot of Hamlet in one sentence, please."}]}`
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				req := httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+sec.Reveal())
				req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
				w := httptest.NewRecorder()
				gw.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}
