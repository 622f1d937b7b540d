package config

import (
	"errors"
	"fmt"
	"time"
)

// TLS serves the main listener over HTTPS, and with ClientCAFile and
// ClientAuth, asks clients for certificates (mutual TLS). Certificates that
// do not chain to ClientCAFile are refused in the handshake; verified ones
// are mapped to policies by identity.mtls.
type TLS struct {
	CertFile     string `yaml:"cert_file"`
	KeyFile      string `yaml:"key_file"`
	ClientCAFile string `yaml:"client_ca_file"`
	// ClientAuth is "" (no client certificates), "request" (verified if
	// sent) or "require" (the handshake fails without one).
	ClientAuth string `yaml:"client_auth"`
}

// Enabled reports whether the main listener serves TLS.
func (t TLS) Enabled() bool { return t.CertFile != "" }

// Identity configures credentials that are not Warden keys: workload-identity
// JWTs from OIDC issuers, Warden's own short-lived tokens, and client
// certificates. See package identity and docs/keyless.md.
type Identity struct {
	OIDC   OIDC   `yaml:"oidc"`
	Tokens Tokens `yaml:"tokens"`
	MTLS   MTLS   `yaml:"mtls"`
}

// OIDC lists the issuers whose JWTs Warden accepts.
type OIDC struct {
	Issuers []Issuer `yaml:"issuers"`
}

// Issuer is one OIDC provider (Entra ID, Google, GitHub Actions, a
// Kubernetes cluster, ...).
type Issuer struct {
	// Issuer is the exact "iss" of its tokens; discovery fetches
	// Issuer + "/.well-known/openid-configuration".
	Issuer string `yaml:"issuer"`
	// Audience must be among the token's "aud" values.
	Audience string `yaml:"audience"`
	// JWKSURL skips discovery (e.g. Kubernetes clusters whose discovery is
	// not reachable anonymously).
	JWKSURL string `yaml:"jwks_url"`
	// ClockSkew tolerated on exp, nbf and iat; default 30s, at most 5m.
	ClockSkew time.Duration `yaml:"clock_skew"`
	// MaxTokenLifetime refuses tokens valid for longer (exp - iat); 0: no limit.
	MaxTokenLifetime time.Duration `yaml:"max_token_lifetime"`
	// Policies map claims to policies; the first whose match holds wins. A
	// token that matches none is refused.
	Policies []IdentityPolicy `yaml:"policies"`
}

// MTLS maps verified client certificates to policies. Match keys: cn,
// spiffe_id, uri, dns, email, ou, serial (hex) and issuer_cn.
type MTLS struct {
	Clients []IdentityPolicy `yaml:"clients"`
}

// IdentityPolicy is what an identity that matches may do: either the scope
// and limits of KeySpec (limits apply per identity) or those of an
// existing key KeyID (shared with the key and everything else mapped to
// it; suspending or revoking the key stops them all).
type IdentityPolicy struct {
	// Name names the policy in identity ids ("oidc:NAME#SUBJECT"); default
	// KeySpec.Name or KeyID. Unique across all issuers and mtls.
	Name string `yaml:"name"`
	// Match holds claim (or certificate field) names and values; a value
	// may be a glob where * matches any run of characters and ? one. All
	// entries must hold. Nested claims are named with dots
	// ("kubernetes.io.namespace"); a list claim matches if any element does.
	Match   map[string]string `yaml:"match"`
	KeySpec *KeySpec          `yaml:"key_spec"`
	KeyID   string            `yaml:"key_id"`
}

// KeySpec is the policy of an identity: the scope and limits a key has.
type KeySpec struct {
	Name             string            `yaml:"name"`
	Owner            string            `yaml:"owner"`
	Labels           map[string]string `yaml:"labels"`
	Models           []string          `yaml:"models"`
	Endpoints        []string          `yaml:"endpoints"`
	CIDRs            []string          `yaml:"cidrs"`
	RPM              int               `yaml:"rpm"`
	TPM              int               `yaml:"tpm"`
	MaxConcurrent    int               `yaml:"max_concurrent"`
	MonthlyBudgetUSD float64           `yaml:"monthly_budget_usd"`
}

// Tokens configures POST /v1/warden/token, which exchanges a key or a
// workload identity for a short-lived token bound to the caller's network
// and, with DPoP, to a key the caller holds.
type Tokens struct {
	Enabled bool `yaml:"enabled"`
	// TTL of issued tokens; default 10m, at most 1h.
	TTL time.Duration `yaml:"ttl"`
	// SigningKeyFile holds the Ed25519 signing key; default DATA/token.key,
	// created (mode 0600) on first start. Instances that share clients must
	// share it.
	SigningKeyFile string `yaml:"signing_key_file"`
	// Issuer is the tokens' "iss"; default "warden".
	Issuer string `yaml:"issuer"`
	// BindIPv4Bits and BindIPv6Bits are the prefix lengths of the network a
	// token is bound to; defaults 32 and 64.
	BindIPv4Bits int `yaml:"bind_ipv4_bits"`
	BindIPv6Bits int `yaml:"bind_ipv6_bits"`
	// RequireDPoP refuses to issue tokens without a DPoP proof.
	RequireDPoP bool `yaml:"require_dpop"`
	// DPoPMaxAge is how old a DPoP proof's iat may be; default 60s.
	DPoPMaxAge time.Duration `yaml:"dpop_max_age"`
	// PublicURL is the scheme and host clients use (e.g.
	// https://warden.example.com) when Warden runs behind a proxy; DPoP
	// proofs name it in htu. Default: the request's own.
	PublicURL string `yaml:"public_url"`
}

// validateIdentity checks the shape of the tls and identity sections;
// package identity checks the rest (globs, URLs) when it provisions them.
func (c *Config) validateIdentity() error {
	t := c.TLS
	if (t.CertFile == "") != (t.KeyFile == "") {
		return errors.New("config: tls: cert_file and key_file go together")
	}
	switch t.ClientAuth {
	case "":
	case "request", "require":
		if t.ClientCAFile == "" || t.CertFile == "" {
			return fmt.Errorf("config: tls: client_auth %q needs cert_file, key_file and client_ca_file", t.ClientAuth)
		}
	default:
		return fmt.Errorf("config: tls: unknown client_auth %q (want request or require)", t.ClientAuth)
	}
	if len(c.Identity.MTLS.Clients) > 0 && t.ClientAuth == "" {
		return errors.New("config: identity.mtls: needs tls.client_auth and tls.client_ca_file")
	}
	for i, is := range c.Identity.OIDC.Issuers {
		if is.Issuer == "" || is.Audience == "" {
			return fmt.Errorf("config: identity.oidc.issuers[%d]: issuer and audience are required", i)
		}
		if len(is.Policies) == 0 {
			return fmt.Errorf("config: identity.oidc.issuers[%d]: no policies: no token could be admitted", i)
		}
	}
	tk := c.Identity.Tokens
	if tk.TTL < 0 || tk.TTL > time.Hour {
		return errors.New("config: identity.tokens.ttl: must be between 0 (default 10m) and 1h")
	}
	if tk.BindIPv4Bits < 0 || tk.BindIPv4Bits > 32 || tk.BindIPv6Bits < 0 || tk.BindIPv6Bits > 128 {
		return errors.New("config: identity.tokens: bind_ipv4_bits is 0-32 and bind_ipv6_bits 0-128")
	}
	return nil
}
