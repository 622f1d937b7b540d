package config

import (
	"fmt"
	"net/url"
)

// Tracing configures OpenTelemetry traces. It is plain data: the assembly
// (package warden) builds the exporter from it. With no OTLPEndpoint,
// tracing is off: no provider is installed and nothing is exported.
type Tracing struct {
	// OTLPEndpoint is the OTLP/HTTP collector's base URL, such as
	// "http://127.0.0.1:4318"; spans are POSTed to its /v1/traces.
	// Empty: tracing off.
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// ServiceName is the service.name resource attribute; default "warden".
	ServiceName string `yaml:"service_name"`
	// SampleRatio is the share of new traces sampled, 0 to 1; 0 means 1
	// (all). A request that arrives with a sampled traceparent follows its
	// parent's decision.
	SampleRatio float64 `yaml:"sample_ratio"`
}

// Enabled reports whether traces are exported.
func (t Tracing) Enabled() bool { return t.OTLPEndpoint != "" }

func (t Tracing) validate() error {
	if t.SampleRatio < 0 || t.SampleRatio > 1 {
		return fmt.Errorf("config: tracing.sample_ratio: %v, want 0 to 1", t.SampleRatio)
	}
	if t.OTLPEndpoint == "" {
		return nil
	}
	u, err := url.Parse(t.OTLPEndpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("config: tracing.otlp_endpoint: %q, want an http(s) URL such as http://127.0.0.1:4318", t.OTLPEndpoint)
	}
	return nil
}
