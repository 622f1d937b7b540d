// Package config is Warden's configuration file: YAML that maps one-to-one
// onto the types below, decoded strictly (an unknown field is an error, so a
// typo never silently disables a defence), with ${NAME} expanded from the
// environment so secrets need not be written into the file.
//
// A minimal Azure configuration:
//
//	providers:
//	  - name: azure-east
//	    type: azure
//	    endpoint: https://my-resource.openai.azure.com
//	    api_key: ${AZURE_OPENAI_API_KEY}
//	    api_version: "2024-10-21"
//	models:
//	  - name: gpt-4o            # what clients ask for (model or deployment)
//	    provider: azure-east
//	    upstream: gpt-4o-prod   # the Azure deployment
//	prices:
//	  gpt-4o: {input_per_1k: 0.0025, output_per_1k: 0.01}
//
// The configuration is raw data; the server provisions running state from it
// at start-up and never changes it. This package imports no other Warden
// package: the sections a feature owns (audit, detect, guard.moderators)
// are kept as Sections and decoded, just as strictly, by the assembly
// (package warden) into that feature's own config type.
// A reload (SIGHUP or the admin API) parses the file again into a new
// Config and provisions new state beside the old.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole file.
type Config struct {
	Listen         string   `yaml:"listen"`
	AdminListen    string   `yaml:"admin_listen"`
	Data           string   `yaml:"data"`
	TrustedProxies []string `yaml:"trusted_proxies"`
	Instance       string   `yaml:"instance"`

	// Store is a PostgreSQL URL (postgres://...) or empty for SQLite in Data.
	Store string `yaml:"store"`
	// Redis is a redis:// URL for shared limits, revocation fan-out and one
	// detector for the cluster (package partition), or empty for in-process.
	Redis string `yaml:"redis"`

	Log    Log    `yaml:"log"`
	Limits Limits `yaml:"limits"`

	Providers      []Provider       `yaml:"providers"`
	Models         []Model          `yaml:"models"`
	Prices         map[string]Price `yaml:"prices"`
	SecretScanning SecretScanning   `yaml:"secret_scanning"`
	Guard          Guard            `yaml:"guard"`
	// Audit and Detect belong to packages audit and detect (audit.Config,
	// detect.Config, which also holds the alert sinks); see Section.
	Audit  Section `yaml:"audit"`
	Detect Section `yaml:"detect"`

	// TLS and Identity: HTTPS and mutual TLS on the main listener, and
	// credentials other than keys (see identity.go in this package).
	TLS      TLS      `yaml:"tls"`
	Identity Identity `yaml:"identity"`

	// Operators: sign-in, roles and the admin listener's TLS, decoded by
	// the assembly into authn.Config.
	Operators Section `yaml:"operators"`

	// Tracing: OpenTelemetry traces by OTLP/HTTP, off unless an endpoint
	// is set (see tracing.go in this package).
	Tracing Tracing `yaml:"tracing"`

	Events string `yaml:"events"` // JSONL file of events, "" for none
	Record string `yaml:"record"` // JSONL file of recorded requests for replay, "" for none
}

// Guard configures the guardrails. They are on by default with the guard's
// default policy; Policy and Teams take the guard's policy format (see
// docs/guard-model-card.md), decoded strictly when the server starts.
type Guard struct {
	Disabled bool                      `yaml:"disabled"`
	Policy   map[string]any            `yaml:"policy"` // the default policy
	Teams    map[string]map[string]any `yaml:"teams"`  // policies by key owner
	// StreamHoldback is how many bytes of a streamed answer the guard holds
	// back before releasing text (0: the guard's default, 192 bytes, about
	// 48 tokens). Larger windows judge more context before anything is
	// sent; smaller ones delay the first token less.
	StreamHoldback int `yaml:"stream_holdback"`
	// MemoEntries is how many judged prompt texts the guard remembers, per
	// key, so that a system prompt or a conversation's earlier turns are
	// not judged again with every request (0: the guard's default, 8,192
	// texts, 3.8 MB at most; -1: off). The verdicts are the same either way.
	MemoEntries int `yaml:"memo_entries"`
	// Moderators are external moderation services consulted after the
	// local guard (OpenAI moderation, Llama Guard, Azure AI Content Safety):
	// a list of moderator.Config, decoded by package moderator's owner.
	Moderators Section `yaml:"moderators"`
}

// SecretScanning configures the GitHub secret-scanning partner endpoint,
// POST /secret-scanning/github on the main listener. It is off unless a
// public key source is set.
type SecretScanning struct {
	GitHub struct {
		// PublicKeysFile holds GitHub's signing keys in its meta format
		// ({"public_keys": [{"key_identifier", "key", "is_current"}]}).
		PublicKeysFile string `yaml:"public_keys_file"`
		// PublicKeysURL, if set, is fetched (with a timeout, cached for an
		// hour) when a signature names a key the file lacks.
		PublicKeysURL string `yaml:"public_keys_url"`
	} `yaml:"github"`
}

// Log configures logging.
type Log struct {
	Format string `yaml:"format"` // text (default) or json
	Level  string `yaml:"level"`  // debug, info (default), warn, error
}

// Limits bounds what any request may cost the server.
type Limits struct {
	MaxBodyBytes      int64         `yaml:"max_body_bytes"`      // request body; default 4 MiB
	MaxResponseBytes  int64         `yaml:"max_response_bytes"`  // buffered upstream answer; default 32 MiB
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"` // default 10s
	ReadTimeout       time.Duration `yaml:"read_timeout"`        // whole request incl. body; default 60s
	IdleTimeout       time.Duration `yaml:"idle_timeout"`        // default 120s
	UpstreamTimeout   time.Duration `yaml:"upstream_timeout"`    // until response headers; default 60s
	StreamIdleTimeout time.Duration `yaml:"stream_idle_timeout"` // max gap between stream chunks; default 60s
	Retries           int           `yaml:"retries"`             // upstream retries of 429/5xx before any byte reached the client; default 2
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`    // drain time on SIGTERM; default 30s
	// OnBackendFailure decides limits while the shared limit backend (Redis)
	// is unreachable: "local" (default: each instance enforces each key's
	// limits on its own, so N instances admit at most N times the limit),
	// "closed" (refuse with 503) or "open" (admit).
	OnBackendFailure string `yaml:"on_backend_failure"`
}

// Provider is one upstream.
type Provider struct {
	Name     string `yaml:"name"`
	Type     string `yaml:"type"`     // openai, azure, mock
	BaseURL  string `yaml:"base_url"` // openai: e.g. https://api.openai.com/v1 or http://localhost:8000/v1
	Endpoint string `yaml:"endpoint"` // azure: https://RESOURCE.openai.azure.com
	APIKey   string `yaml:"api_key"`  // the upstream credential; never leaves Warden
	// Entra, for azure providers, authenticates with Microsoft Entra ID
	// (a bearer token) instead of api_key. See upstream.go.
	Entra      *Entra            `yaml:"entra"`
	APIVersion string            `yaml:"api_version"` // azure
	Headers    map[string]string `yaml:"headers"`     // extra headers sent upstream (e.g. OpenAI-Organization)
	Timeout    time.Duration     `yaml:"timeout"`     // overrides limits.upstream_timeout
	// Mock only: added latency and a fault to inject, for tests and benchmarks.
	Latency time.Duration `yaml:"latency"`
}

// Model maps a client-facing model or deployment name to a provider, or to
// a pool of deployments (see Deployment).
type Model struct {
	Name     string `yaml:"name"`
	Provider string `yaml:"provider"`
	Upstream string `yaml:"upstream"` // upstream model or deployment; default Name
	Kind     string `yaml:"kind"`     // chat (default), embedding, image: for listings
	// Deployments spread the model over several upstreams; set either
	// Provider (one upstream) or Deployments, not both.
	Deployments []Deployment `yaml:"deployments"`
	Pool        Pool         `yaml:"pool"` // failover tuning of Deployments
}

// Price is what a model costs, in USD.
type Price struct {
	InputPer1K  float64 `yaml:"input_per_1k"`
	OutputPer1K float64 `yaml:"output_per_1k"`
	PerImage    float64 `yaml:"per_image"`
	PerHDImage  float64 `yaml:"per_hd_image"`
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Parse decodes a configuration file's bytes. ${NAME} references are
// expanded from lookup (os.LookupEnv when nil); a missing variable is an
// error rather than an empty secret.
func Parse(data []byte, lookup func(string) (string, bool)) (*Config, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var missing []string
	expanded := envRef.ReplaceAllStringFunc(string(data), func(m string) string {
		name := envRef.FindStringSubmatch(m)[1]
		v, ok := lookup(name)
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("config: environment variables not set: %s", strings.Join(missing, ", "))
	}
	c := Default()
	dec := yaml.NewDecoder(bytes.NewReader([]byte(expanded)))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Load reads and parses the file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(b, nil)
}

// Default returns the configuration used with no file: the mock provider
// and its three models, so Warden runs out of the box.
func Default() *Config {
	return &Config{
		Listen:      "127.0.0.1:8080",
		AdminListen: "127.0.0.1:8081",
		Data:        "./warden-data",
		Limits: Limits{
			MaxBodyBytes:      4 << 20,
			MaxResponseBytes:  32 << 20,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			IdleTimeout:       120 * time.Second,
			UpstreamTimeout:   60 * time.Second,
			StreamIdleTimeout: 60 * time.Second,
			Retries:           2,
			ShutdownTimeout:   30 * time.Second,
		},
	}
}

// UsesMock reports whether no provider was configured, in which case the
// server fronts the built-in mock.
func (c *Config) UsesMock() bool { return len(c.Providers) == 0 }

// Validate checks cross-field rules.
func (c *Config) Validate() error {
	names := map[string]string{}
	for i, p := range c.Providers {
		if p.Name == "" {
			return fmt.Errorf("config: providers[%d]: missing name", i)
		}
		if _, dup := names[p.Name]; dup {
			return fmt.Errorf("config: provider %q defined twice", p.Name)
		}
		names[p.Name] = p.Type
		switch p.Type {
		case "openai":
			if p.BaseURL == "" {
				return fmt.Errorf("config: provider %q: openai needs base_url", p.Name)
			}
		case "azure":
			if p.Endpoint == "" || p.APIVersion == "" {
				return fmt.Errorf("config: provider %q: azure needs endpoint and api_version", p.Name)
			}
		case "mock":
		default:
			return fmt.Errorf("config: provider %q: unknown type %q (want openai, azure or mock)", p.Name, p.Type)
		}
	}
	if err := c.validateUpstreams(names); err != nil {
		return err
	}
	for _, s := range c.TrustedProxies {
		if _, err := ParsePrefix(s); err != nil {
			return fmt.Errorf("config: trusted_proxies: %w", err)
		}
	}
	if err := c.validateIdentity(); err != nil {
		return err
	}
	if err := c.Tracing.validate(); err != nil {
		return err
	}
	if c.Guard.StreamHoldback < 0 || c.Guard.StreamHoldback > 64<<10 {
		return fmt.Errorf("config: guard.stream_holdback: %d bytes, want 0 to 65536", c.Guard.StreamHoldback)
	}
	if c.Guard.MemoEntries < -1 || c.Guard.MemoEntries > 1<<20 {
		return fmt.Errorf("config: guard.memo_entries: %d, want -1 (off), 0 (the default) or up to 1048576", c.Guard.MemoEntries)
	}
	switch c.Limits.OnBackendFailure {
	case "", "local", "closed", "open":
	default:
		return fmt.Errorf("config: limits.on_backend_failure: %q, want local, closed or open", c.Limits.OnBackendFailure)
	}
	if c.Limits.MaxBodyBytes <= 0 || c.Limits.MaxResponseBytes <= 0 {
		return errors.New("config: limits: sizes must be positive")
	}
	return nil
}

// ParsePrefix accepts a CIDR or a bare address (as a /32 or /128).
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("bad CIDR %q: %w", s, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad address %q: %w", s, err)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
