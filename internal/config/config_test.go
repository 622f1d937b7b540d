package config

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	env := map[string]string{"AZ_KEY": "secret-value"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		name, yaml, err string
	}{
		{"empty uses defaults", "", ""},
		{"azure", `
providers:
  - name: az
    type: azure
    endpoint: https://r.openai.azure.com
    api_key: ${AZ_KEY}
    api_version: "2024-10-21"
models:
  - name: gpt-4o
    provider: az
    upstream: gpt-4o-prod
prices:
  gpt-4o: {input_per_1k: 0.0025, output_per_1k: 0.01}
`, ""},
		{"unknown field", "listen: x\nlisten_addr: y\n", "listen_addr"},
		{"missing env", "providers:\n  - {name: a, type: openai, base_url: http://x, api_key: ${NOPE}}\n", "NOPE"},
		{"unknown provider type", "providers:\n  - {name: a, type: bedrock}\n", "unknown type"},
		{"model without provider", "models:\n  - {name: m, provider: p}\n", "unknown provider"},
		{"bad proxy", "trusted_proxies: [not-a-cidr]\n", "trusted_proxies"},
		{"azure missing version", "providers:\n  - {name: a, type: azure, endpoint: https://x}\n", "api_version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml), lookup)
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Listen != "127.0.0.1:8080" || c.Limits.MaxBodyBytes == 0 {
					t.Errorf("defaults lost: %+v", c)
				}
				if len(c.Providers) > 0 && c.Providers[0].APIKey != "secret-value" {
					t.Errorf("env not expanded")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("err = %v, want mention of %q", err, tt.err)
			}
			if err != nil && strings.Contains(err.Error(), "secret-value") {
				t.Error("error leaks a secret")
			}
		})
	}
}
