package config

import (
	"os"
	"strings"
	"testing"
)

// parseCase is a configuration and the error it must give ("" for none).
type parseCase struct {
	name, yaml, err string
}

func TestParse(t *testing.T) {
	env := map[string]string{"AZ_KEY": "secret-value"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []parseCase{
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
		{"guard memo off", "guard: {memo_entries: -1}\n", ""},
		{"guard memo too large", "guard: {memo_entries: 2000000}\n", "guard.memo_entries"},
		{"guard memo negative", "guard: {memo_entries: -2}\n", "guard.memo_entries"},
		{"tracing", "tracing: {otlp_endpoint: 'http://127.0.0.1:4318', service_name: w, sample_ratio: 0.5}\n", ""},
		{"tracing bad endpoint", "tracing: {otlp_endpoint: '127.0.0.1:4318'}\n", "tracing.otlp_endpoint"},
		{"tracing bad ratio", "tracing: {otlp_endpoint: 'http://c:4318', sample_ratio: 2}\n", "sample_ratio"},
		{"tracing unknown field", "tracing: {endpoint: 'http://c:4318'}\n", "endpoint"},
		{"azure missing version", "providers:\n  - {name: a, type: azure, endpoint: https://x}\n", "api_version"},
		{"entra and api_key", "providers:\n  - {name: a, type: azure, endpoint: https://x, api_version: v, api_key: k, entra: {tenant_id: t, client_id: c, client_secret: s}}\n", "not both"},
		{"entra two sources", "providers:\n  - {name: a, type: azure, endpoint: https://x, api_version: v, entra: {tenant_id: t, client_id: c, client_secret: s, managed_identity: true}}\n", "exactly one"},
		{"entra no tenant", "providers:\n  - {name: a, type: azure, endpoint: https://x, api_version: v, entra: {client_secret: s}}\n", "tenant_id"},
		{"entra http authority", "providers:\n  - {name: a, type: azure, endpoint: https://x, api_version: v, entra: {tenant_id: t, client_id: c, client_secret: s, authority_host: 'http://x'}}\n", "https"},
		{"entra on openai", "providers:\n  - {name: a, type: openai, base_url: http://x, entra: {managed_identity: true}}\n", "for azure"},
		{"managed identity", "providers:\n  - {name: o, type: openai, base_url: http://x, api_key: ${AZ_KEY}}\n  - {name: a, type: azure, endpoint: https://x, api_version: v, entra: {managed_identity: true}}\n", ""},
		{"pool", "providers:\n  - {name: o, type: openai, base_url: http://x, api_key: ${AZ_KEY}}\n  - {name: a, type: azure, endpoint: https://x, api_version: v, entra: {managed_identity: true}}\n  - {name: b, type: openai, base_url: http://x}\nmodels:\n  - name: m\n    deployments: [{provider: a, priority: 1}, {provider: b, upstream: x, weight: 3}]\n", ""},
		{"pool and provider", "providers:\n  - {name: a, type: azure, endpoint: https://x, api_version: v, entra: {managed_identity: true}}\nmodels:\n  - {name: m, provider: a, deployments: [{provider: a}]}\n", "not both"},
		{"pool unknown provider", "providers:\n  - {name: a, type: azure, endpoint: https://x, api_version: v, entra: {managed_identity: true}}\nmodels:\n  - {name: m, deployments: [{provider: z}]}\n", "unknown provider"},
		{"pool negative weight", "providers:\n  - {name: a, type: azure, endpoint: https://x, api_version: v, entra: {managed_identity: true}}\nmodels:\n  - {name: m, deployments: [{provider: a, weight: -1}]}\n", "weight"},
	}
	for _, tt := range append(tests, identityCases...) {
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

// TestReadmeExample keeps the README's configuration example true to the code.
func TestReadmeExample(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "```yaml\n")
	if i < 0 {
		t.Fatal("no yaml example in README")
	}
	s = s[i+len("```yaml\n"):]
	s = s[:strings.Index(s, "```")]
	env := func(k string) (string, bool) { return "x", true }
	c, err := Parse([]byte(s), env)
	if err != nil {
		t.Fatalf("README example does not parse: %v", err)
	}
	if len(c.Providers) != 3 || len(c.Models) != 4 || c.SecretScanning.GitHub.PublicKeysFile == "" {
		t.Errorf("parsed %+v", c)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("listen: 127.0.0.1:9\nproviders:\n  - {name: a, type: openai, base_url: http://x}\nmodels:\n  - {name: m, provider: a}\n")
	f.Add("limits: {max_body_bytes: -1}\n")
	f.Add("guard: {policy: {categories: {jailbreak: {action: block, threshold: 0.5}}}}\n")
	f.Add("a: ${A}\n")
	f.Fuzz(func(t *testing.T, doc string) {
		lookup := func(string) (string, bool) { return "v", true }
		c, err := Parse([]byte(doc), lookup)
		if err == nil && c.Validate() != nil {
			t.Fatalf("Parse accepted a config that does not validate: %q", doc)
		}
	})
}
