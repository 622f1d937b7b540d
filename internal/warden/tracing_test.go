package warden_test

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store/sqlite/sqlitetest"
	"github.com/wardenhq/warden/internal/warden"
)

// collector is a local OTLP/HTTP trace receiver: it decodes every
// ExportTraceServiceRequest POSTed to /v1/traces.
type collector struct {
	mu       sync.Mutex
	posts    int
	spans    []*tracepb.Span
	resource map[string]string
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.posts++
	c.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(b, &req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.ResourceSpans {
		c.resource = map[string]string{}
		for _, kv := range rs.GetResource().GetAttributes() {
			c.resource[kv.Key] = kv.Value.GetStringValue()
		}
		for _, ss := range rs.ScopeSpans {
			c.spans = append(c.spans, ss.Spans...)
		}
	}
	c.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// tracedGateway runs one chat request with an incoming traceparent through
// a real assembled gateway (tracing section as given) to an upstream that
// records the traceparent it receives, then closes the Warden (which must
// flush the traces). It returns the upstream's traceparent and the key's
// secret and id.
func tracedGateway(t *testing.T, tracing string) (upstreamTP, secret, keyID string) {
	t.Helper()
	var mu sync.Mutex
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		upstreamTP = r.Header.Get("Traceparent")
		mu.Unlock()
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-2024-08-06",`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":"Hamlet avenges his father and everyone dies."},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}`)
	}))
	defer upstream.Close()
	doc := "providers:\n  - name: up\n    type: openai\n    base_url: " + upstream.URL + "/v1\n    api_key: sk-upstream-secret\n" +
		"models:\n  - name: gpt-4o\n    provider: up\n" + tracing
	cfg, err := config.Parse([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg.Data = dir
	ctx := context.Background()
	db := sqlitetest.OpenDir(t, dir)
	w, err := warden.New(ctx, warden.Options{Config: cfg, Store: db})
	if err != nil {
		t.Fatal(err)
	}
	k, sec, err := keys.Create(ctx, db, keys.Spec{Name: "tracing"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(w.Gateway)
	req, _ := http.NewRequest("POST", gw.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"Summarise Hamlet in one sentence."}]}`))
	req.Header.Set("Authorization", "Bearer "+sec.Reveal())
	req.Header.Set("Traceparent", "00-"+clientTrace+"-"+clientSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	gw.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return upstreamTP, sec.Reveal(), k.ID
}

const (
	clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpan  = "00f067aa0ba902b7"
)

// TestTracesExportedToCollector: with an OTLP endpoint, one chat request
// yields one trace, continuing the client's traceparent, with the server
// span (GenAI attributes, key id, never the secret) and a span per stage;
// the upstream receives a traceparent of the same trace, from the attempt
// span.
func TestTracesExportedToCollector(t *testing.T) {
	col := &collector{}
	cs := httptest.NewServer(col)
	defer cs.Close()
	tp, secret, keyID := tracedGateway(t, "tracing:\n  otlp_endpoint: "+cs.URL+"\n  service_name: warden-test\n")

	col.mu.Lock()
	defer col.mu.Unlock()
	if col.resource["service.name"] != "warden-test" {
		t.Errorf("resource %v, want service.name warden-test", col.resource)
	}
	byName := map[string]*tracepb.Span{}
	for _, s := range col.spans {
		if got := hex.EncodeToString(s.TraceId); got != clientTrace {
			t.Errorf("span %q in trace %s, want the client's %s", s.Name, got, clientTrace)
		}
		byName[s.Name] = s
	}
	root := byName["chat gpt-4o"]
	if root == nil {
		t.Fatalf("no server span \"chat gpt-4o\" among %d spans: %v", len(col.spans), names(col.spans))
	}
	if root.Kind != tracepb.Span_SPAN_KIND_SERVER || hex.EncodeToString(root.ParentSpanId) != clientSpan {
		t.Errorf("server span kind %v parent %x, want server under the client's span", root.Kind, root.ParentSpanId)
	}
	attrs := map[string]string{}
	for _, kv := range root.Attributes {
		v := kv.Value.GetStringValue()
		if _, ok := kv.Value.Value.(*commonpb.AnyValue_IntValue); ok {
			v = strconv.FormatInt(kv.Value.GetIntValue(), 10)
		}
		attrs[kv.Key] = v
	}
	for k, want := range map[string]string{
		"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.provider.name": "up",
		"gen_ai.usage.input_tokens": "11", "gen_ai.usage.output_tokens": "7",
		"http.response.status_code": "200", "warden.key_id": keyID,
	} {
		if attrs[k] != want {
			t.Errorf("server span %s = %q, want %q", k, attrs[k], want)
		}
	}
	for _, s := range col.spans {
		for _, kv := range s.Attributes {
			if strings.Contains(kv.Value.String(), secret) || strings.Contains(kv.Value.String(), "sk-upstream-secret") {
				t.Errorf("span %q attribute %s carries a secret", s.Name, kv.Key)
			}
		}
	}
	for _, stage := range []string{"guard prompt", "upstream", "guard answer", "audit journal", "detect and publish"} {
		s := byName[stage]
		if s == nil {
			t.Errorf("no %q span among %v", stage, names(col.spans))
			continue
		}
		if string(s.ParentSpanId) != string(root.SpanId) {
			t.Errorf("%q is not a child of the server span", stage)
		}
	}
	att := byName["upstream attempt"]
	if att == nil || byName["upstream"] == nil {
		t.Fatalf("no upstream attempt span among %v", names(col.spans))
	}
	if string(att.ParentSpanId) != string(byName["upstream"].SpanId) || att.Kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("upstream attempt: kind %v, not a client child of the upstream span", att.Kind)
	}
	want := "00-" + clientTrace + "-" + hex.EncodeToString(att.SpanId) + "-01"
	if tp != want {
		t.Errorf("upstream traceparent %q, want %q", tp, want)
	}
}

// TestTracesOffWithoutEndpoint: with no tracing section nothing is
// exported, even with the OTLP environment variables pointing at a
// collector, and no trace context goes upstream (the client's traceparent
// is not forwarded either).
func TestTracesOffWithoutEndpoint(t *testing.T) {
	col := &collector{}
	cs := httptest.NewServer(col)
	defer cs.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", cs.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", cs.URL+"/v1/traces")
	tp, _, _ := tracedGateway(t, "")
	col.mu.Lock()
	defer col.mu.Unlock()
	if col.posts != 0 || len(col.spans) != 0 {
		t.Errorf("collector got %d posts, %d spans with tracing off", col.posts, len(col.spans))
	}
	if tp != "" {
		t.Errorf("upstream got traceparent %q with tracing off", tp)
	}
}

func names(spans []*tracepb.Span) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}
