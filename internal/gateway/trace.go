package gateway

import (
	"context"
	"log/slog"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/wardenhq/warden/internal/provider"
)

// Tracing: one server span per request and a child span per stage, with
// the OpenTelemetry GenAI semantic-convention attributes. With no
// Options.Tracer, the gateway starts no span, touches no context and
// allocates nothing for tracing: every helper here checks x.span first.

// tracecontext reads and writes W3C traceparent/tracestate headers. It is
// used directly, never through the otel globals, so tracing stays a
// property of this Server.
var tracecontext = propagation.TraceContext{}

// noSpan is what a stage gets when tracing is off: ending it costs nothing.
var noSpan = trace.SpanFromContext(context.Background())

// startTrace starts the request's server span, continuing the client's
// trace when it sent a traceparent, and puts it in x.r's context so the
// upstream request carries it.
func (x *exchange) startTrace() {
	t := x.s.tracer
	if t == nil {
		return
	}
	ctx := tracecontext.Extract(x.r.Context(), propagation.HeaderCarrier(x.r.Header))
	ctx, x.span = t.Start(ctx, x.r.Method, trace.WithSpanKind(trace.SpanKindServer))
	x.r = x.r.WithContext(ctx)
	if sc := x.span.SpanContext(); sc.HasTraceID() {
		x.traceAttr = slog.String("trace_id", sc.TraceID().String())
	}
}

// stage starts a span for one pipeline stage as a child of ctx's span
// (the request's, or an enclosing stage's).
func (x *exchange) stage(ctx context.Context, name string) (context.Context, trace.Span) {
	if x.span == nil {
		return ctx, noSpan
	}
	return x.s.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindInternal))
}

// endTrace names the server span after the operation and model, sets the
// GenAI and HTTP attributes from the finished event, and ends it. Never a
// credential: the key is named by its id.
func (x *exchange) endTrace() {
	sp := x.span
	if sp == nil {
		return
	}
	ev := x.ev
	op := genAIOperation(x.endpoint)
	name := x.r.Method + " " + x.r.URL.Path
	if op != "" {
		name = op
		if x.route != nil {
			name += " " + x.route.name // a configured name, not the client's free text
		}
	}
	sp.SetName(name)
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", x.r.Method),
		attribute.Int("http.response.status_code", ev.Status),
		attribute.String("warden.request_id", ev.ID),
	}
	if op != "" {
		attrs = append(attrs, attribute.String("gen_ai.operation.name", op))
	}
	if x.route != nil {
		attrs = append(attrs, attribute.String("gen_ai.request.model", x.route.name),
			attribute.String("gen_ai.provider.name", ev.Provider), attribute.String("gen_ai.system", ev.Provider))
	}
	if ev.Upstream != "" {
		attrs = append(attrs, attribute.String("gen_ai.response.model", ev.Upstream))
	}
	if ev.PromptTokens > 0 || ev.CompletionTokens > 0 {
		attrs = append(attrs, attribute.Int("gen_ai.usage.input_tokens", ev.PromptTokens),
			attribute.Int("gen_ai.usage.output_tokens", ev.CompletionTokens))
	}
	if ev.KeyID != "" {
		attrs = append(attrs, attribute.String("warden.key_id", ev.KeyID))
	}
	if ev.Refusal != "" {
		attrs = append(attrs, attribute.String("warden.refusal", ev.Refusal), attribute.String("error.type", ev.ErrorCode))
	}
	if ev.Attempts > 0 {
		attrs = append(attrs, attribute.Int("warden.upstream.attempts", ev.Attempts))
	}
	sp.SetAttributes(attrs...)
	if ev.Status >= 500 {
		sp.SetStatus(codes.Error, ev.ErrorCode)
	}
	sp.End()
}

// genAIOperation maps an endpoint to gen_ai.operation.name.
func genAIOperation(e provider.Endpoint) string {
	switch e {
	case provider.ChatCompletions, provider.Responses:
		return "chat"
	case provider.Completions:
		return "text_completion"
	case provider.Embeddings:
		return "embeddings"
	case provider.ImagesGenerations:
		return "generate_content"
	}
	return ""
}

// tracingTransport gives every upstream HTTP attempt (each retry, each
// deployment of a pool) a client span and sends its W3C trace context
// upstream as traceparent. Requests whose context holds no recording span
// (tracing off) pass through untouched.
type tracingTransport struct {
	base   http.RoundTripper
	tracer trace.Tracer
}

func (t *tracingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if !trace.SpanFromContext(ctx).SpanContext().IsValid() {
		return t.base.RoundTrip(req)
	}
	ctx, sp := t.tracer.Start(ctx, "upstream attempt", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", req.Method),
			attribute.String("server.address", req.URL.Hostname())))
	defer sp.End()
	// RoundTrip must not modify the caller's request: clone the headers.
	r := req.Clone(ctx)
	tracecontext.Inject(ctx, propagation.HeaderCarrier(r.Header))
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		sp.SetStatus(codes.Error, "connection failed")
		return resp, err
	}
	sp.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 500 {
		sp.SetStatus(codes.Error, resp.Status)
	}
	return resp, err
}
