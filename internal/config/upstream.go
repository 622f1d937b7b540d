package config

import (
	"fmt"
	"net/url"
	"time"
)

// Entra authenticates an Azure OpenAI provider with Microsoft Entra ID: the
// provider sends "Authorization: Bearer <token>" for Scope instead of an
// api-key. Exactly one credential source is used:
//
//	client_secret             an app registration's secret
//	certificate_file          a PEM (or PKCS#12) file holding the certificate and its private key
//	federated_token_file      workload identity federation: a file with a token from another
//	                          issuer (AKS service account, GitHub Actions OIDC), re-read as it rotates
//	managed_identity: true    the Azure host's managed identity (client_id picks a user-assigned one)
//
//	providers:
//	  - name: azure-east
//	    type: azure
//	    endpoint: https://my-east.openai.azure.com
//	    api_version: "2024-10-21"
//	    entra:
//	      tenant_id: 00000000-0000-0000-0000-000000000000
//	      client_id: 11111111-1111-1111-1111-111111111111
//	      federated_token_file: /var/run/secrets/azure/tokens/azure-identity-token
type Entra struct {
	TenantID            string `yaml:"tenant_id"`
	ClientID            string `yaml:"client_id"`
	ClientSecret        string `yaml:"client_secret"`
	CertificateFile     string `yaml:"certificate_file"`
	CertificatePassword string `yaml:"certificate_password"`
	FederatedTokenFile  string `yaml:"federated_token_file"`
	ManagedIdentity     bool   `yaml:"managed_identity"`
	// AuthorityHost overrides the Entra authority (default
	// https://login.microsoftonline.com/; sovereign clouds have their own).
	AuthorityHost string `yaml:"authority_host"`
	// Scope is what the token is for; default
	// https://cognitiveservices.azure.com/.default.
	Scope string `yaml:"scope"`
}

// Method names the credential source Entra uses, or "" if none is set.
func (e *Entra) Method() string {
	switch {
	case e.ClientSecret != "":
		return "client_secret"
	case e.CertificateFile != "":
		return "client_certificate"
	case e.FederatedTokenFile != "":
		return "workload_identity"
	case e.ManagedIdentity:
		return "managed_identity"
	}
	return ""
}

// Deployment is one upstream of a model's pool. Requests go to the lowest
// Priority first and, among deployments of one priority, are spread in
// proportion to Weight. A deployment that answers 429, 5xx or cannot be
// reached is skipped for the rest of the request; a 429 also rests it for
// its Retry-After.
type Deployment struct {
	Provider string `yaml:"provider"`
	Upstream string `yaml:"upstream"` // upstream model or deployment; default the model's name
	Priority int    `yaml:"priority"` // lower is tried first; default 0
	Weight   int    `yaml:"weight"`   // share within a priority; default 1
}

// Pool tunes a model's failover. Zero values take the defaults.
type Pool struct {
	// Cooldown rests a deployment that answered 429 without Retry-After
	// (default 10s).
	Cooldown time.Duration `yaml:"cooldown"`
	// FailureThreshold consecutive failures (5xx, connection) open a
	// deployment's circuit breaker (default 3).
	FailureThreshold int `yaml:"failure_threshold"`
	// OpenFor is how long an open breaker keeps the deployment out before
	// one probe request may try it again (default 30s).
	OpenFor time.Duration `yaml:"open_for"`
}

// validateUpstreams checks providers' credentials and models' deployments.
// names maps provider names to their types.
func (c *Config) validateUpstreams(names map[string]string) error {
	for _, p := range c.Providers {
		if p.Entra == nil {
			continue
		}
		if p.Type != "azure" {
			return fmt.Errorf("config: provider %q: entra is for azure providers", p.Name)
		}
		if p.APIKey != "" {
			return fmt.Errorf("config: provider %q: set api_key or entra, not both", p.Name)
		}
		e := p.Entra
		n := 0
		for _, set := range []bool{e.ClientSecret != "", e.CertificateFile != "", e.FederatedTokenFile != "", e.ManagedIdentity} {
			if set {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("config: provider %q: entra needs exactly one of client_secret, certificate_file, federated_token_file, managed_identity", p.Name)
		}
		if !e.ManagedIdentity && (e.TenantID == "" || e.ClientID == "") {
			return fmt.Errorf("config: provider %q: entra %s needs tenant_id and client_id", p.Name, e.Method())
		}
		if e.AuthorityHost != "" {
			if u, err := url.Parse(e.AuthorityHost); err != nil || u.Scheme != "https" || u.Host == "" {
				return fmt.Errorf("config: provider %q: entra.authority_host must be an https URL", p.Name)
			}
		}
	}
	seen := map[string]bool{}
	for i, m := range c.Models {
		if m.Name == "" {
			return fmt.Errorf("config: models[%d]: missing name", i)
		}
		if seen[m.Name] {
			return fmt.Errorf("config: model %q defined twice", m.Name)
		}
		seen[m.Name] = true
		switch {
		case len(m.Deployments) > 0 && (m.Provider != "" || m.Upstream != ""):
			return fmt.Errorf("config: model %q: set provider/upstream or deployments, not both", m.Name)
		case len(m.Deployments) > 64:
			return fmt.Errorf("config: model %q: %d deployments, at most 64", m.Name, len(m.Deployments))
		case len(m.Deployments) == 0:
			if _, ok := names[m.Provider]; !ok {
				return fmt.Errorf("config: model %q: unknown provider %q", m.Name, m.Provider)
			}
		}
		for j, d := range m.Deployments {
			if _, ok := names[d.Provider]; !ok {
				return fmt.Errorf("config: model %q: deployments[%d]: unknown provider %q", m.Name, j, d.Provider)
			}
			if d.Weight < 0 || d.Weight > 1000 {
				return fmt.Errorf("config: model %q: deployments[%d]: weight %d, want 0 to 1000", m.Name, j, d.Weight)
			}
		}
		switch m.Kind {
		case "", "chat", "embedding", "image":
		default:
			return fmt.Errorf("config: model %q: unknown kind %q", m.Name, m.Kind)
		}
	}
	return nil
}

// Targets returns the model's deployments: Deployments, or the single
// Provider/Upstream pair as a one-deployment pool. Upstream defaults to the
// model's name and Weight to 1.
func (m Model) Targets() []Deployment {
	ds := m.Deployments
	if len(ds) == 0 {
		ds = []Deployment{{Provider: m.Provider, Upstream: m.Upstream}}
	}
	out := make([]Deployment, len(ds))
	for i, d := range ds {
		if d.Upstream == "" {
			d.Upstream = m.Name
		}
		if d.Weight == 0 {
			d.Weight = 1
		}
		out[i] = d
	}
	return out
}
