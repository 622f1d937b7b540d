package warden

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/wardenhq/warden/internal/config"
)

// openTracing builds the OpenTelemetry tracer provider that exports by
// OTLP/HTTP to cfg.OTLPEndpoint's /v1/traces, batching spans off the request path. With
// no endpoint it returns nil: the gateway then starts no span at all (the
// OTEL_* environment variables are not read either, so an endpoint in the
// environment does not switch tracing on behind the configuration's back).
// The returned shutdown flushes the spans still queued.
func openTracing(cfg config.Tracing, instance string) (trace.TracerProvider, func(context.Context) error, error) {
	if !cfg.Enabled() {
		return nil, nil, nil
	}
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(strings.TrimSuffix(cfg.OTLPEndpoint, "/")+"/v1/traces"))
	if err != nil {
		return nil, nil, fmt.Errorf("warden: tracing: %w", err)
	}
	name := cfg.ServiceName
	if name == "" {
		name = "warden"
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", name)}
	if instance != "" {
		attrs = append(attrs, attribute.String("service.instance.id", instance))
	}
	ratio := cfg.SampleRatio
	if ratio == 0 {
		ratio = 1
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(2*time.Second)),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	)
	return tp, tp.Shutdown, nil
}
