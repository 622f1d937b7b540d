package gateway

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store/sqlite/sqlitetest"
)

// TestLogsCarryTraceID: a log line the gateway writes for a request names
// the request's trace (the client's, continued) when tracing is on, and has
// no trace_id when it is off. The failing journal makes the gateway log.
func TestLogsCarryTraceID(t *testing.T) {
	const trace = "4bf92f3577b34da6a3ce929d0e0e4736"
	for _, tc := range []struct {
		name string
		on   bool
		want string
	}{{"on", true, `"trace_id":"` + trace + `"`}, {"off", false, ""}} {
		t.Run(tc.name, func(t *testing.T) {
			db := sqlitetest.Open(t)
			o := Options{Config: config.Default(), Store: db, Bus: &event.Bus{},
				Journal: JournalFunc(func(context.Context, *event.Event, []byte, []byte) error { return errors.New("disk full") })}
			rec := tracetest.NewSpanRecorder()
			if tc.on {
				tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
				defer tp.Shutdown(context.Background())
				o.Tracer = tp
			}
			gw, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			_, sec, err := keys.Create(context.Background(), db, keys.Spec{Name: "t"}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			prev := slog.Default()
			slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, nil)))
			defer slog.SetDefault(prev)
			req := httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(`{"model":"mock-echo","messages":[{"role":"user","content":"hi"}]}`))
			req.Header.Set("Authorization", "Bearer "+sec.Reveal())
			req.Header.Set("Traceparent", "00-"+trace+"-00f067aa0ba902b7-01")
			w := httptest.NewRecorder()
			gw.ServeHTTP(w, req)
			if w.Code != 503 {
				t.Fatalf("status %d, want 503 from the failing journal", w.Code)
			}
			line := logs.String()
			if !strings.Contains(line, "audit record failed") {
				t.Fatalf("no audit failure logged: %s", line)
			}
			if tc.on && !strings.Contains(line, tc.want) {
				t.Errorf("log %s lacks %s", line, tc.want)
			}
			if !tc.on && strings.Contains(line, "trace_id") {
				t.Errorf("log %s has a trace_id with tracing off", line)
			}
			ended := rec.Ended()
			if tc.on != (len(ended) > 0) {
				t.Errorf("%d spans ended with tracing %s", len(ended), tc.name)
			}
		})
	}
}
