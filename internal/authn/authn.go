// Package authn says who an operator is and what they may do on the admin
// listener: the roles, the principal of a request, the mapping from an
// identity provider's groups to roles, and sign-in with OpenID Connect
// (authorization code with PKCE, see oidc.go).
//
// Roles are ordered; each includes the ones below it:
//
//	viewer     reads everything except secrets (key secrets are never readable after creation anyway)
//	responder  also suspends and resumes keys, resolves incidents, exports evidence, sets legal holds
//	admin      also creates, changes, rotates, revokes and deletes keys, prunes the log, changes configuration
//
// Which request needs which role is decided by the admin API (admin.Required);
// this package only knows the order.
package authn

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Role is what an operator may do.
type Role int

// The roles, weakest first. None is no role at all (not signed in, or a
// person whose groups map to no role).
const (
	None Role = iota
	Viewer
	Responder
	Admin
)

var roleNames = [...]string{"none", "viewer", "responder", "admin"}

func (r Role) String() string {
	if r < None || r > Admin {
		return "none"
	}
	return roleNames[r]
}

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	for i, n := range roleNames {
		if n == s && i != 0 {
			return Role(i), nil
		}
	}
	return None, fmt.Errorf("authn: unknown role %q (viewer, responder or admin)", s)
}

// Allows reports whether r may do what needs need.
func (r Role) Allows(need Role) bool { return need != None && r >= need }

// Principal is who sent a request to the admin API.
type Principal struct {
	Subject string `json:"subject"`         // the identity provider's sub, or "service-token", or "local"
	Email   string `json:"email,omitempty"` // from the ID token, when it has one
	Name    string `json:"name,omitempty"`
	Role    Role   `json:"-"`
	// Method is how they proved it: "oidc" (console session), "bearer-oidc"
	// (an ID token sent as a bearer token), "service-token" (the shared
	// admin token) or "local" (the in-process CLI on its data directory).
	Method string `json:"method"`
}

// Who names the principal for people: the e-mail, else the subject.
func (p Principal) Who() string {
	if p.Email != "" {
		return p.Email
	}
	return p.Subject
}

// Person reports whether the principal is a signed-in person rather than
// a shared token or the local CLI.
func (p Principal) Person() bool { return p.Method == "oidc" || p.Method == "bearer-oidc" }

type ctxKey struct{}

// With returns ctx carrying p.
func With(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// From returns the principal ctx carries.
func From(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// Config is how operators sign in and what roles they get; plain data,
// decoded strictly from the "operators" section of warden.yaml.
type Config struct {
	OIDC OIDCConfig `yaml:"oidc"`
	// Roles maps each role to the identity provider's groups (values of
	// OIDC.GroupsClaim) that grant it; a person gets the strongest role any
	// of their groups grants, and none if no group matches.
	Roles map[string][]string `yaml:"roles"`
	// ServiceTokenRole is the role of the shared admin token (admin.token)
	// for bootstrap and automation; default admin.
	ServiceTokenRole string `yaml:"service_token_role"`
	// SessionTTL is how long a console session lasts (default 8h).
	SessionTTL time.Duration `yaml:"session_ttl"`
	// MetricsToken makes /metrics require the admin token (or a signed-in
	// person's ID token) as a bearer token.
	MetricsToken bool `yaml:"metrics_token"`
	// TLS serves the admin listener over HTTPS.
	TLS struct {
		CertFile string `yaml:"cert_file"`
		KeyFile  string `yaml:"key_file"`
	} `yaml:"tls"`
}

// OIDCConfig is the identity provider. Sign-in is off while Issuer is empty.
type OIDCConfig struct {
	Issuer           string   `yaml:"issuer"`             // discovery at Issuer/.well-known/openid-configuration
	ClientID         string   `yaml:"client_id"`          // also the audience of ID tokens
	ClientSecret     string   `yaml:"client_secret"`      // or ClientSecretFile; empty for a public client (PKCE only)
	ClientSecretFile string   `yaml:"client_secret_file"` // read at start
	RedirectURL      string   `yaml:"redirect_url"`       // https://HOST/console/oidc/callback
	Scopes           []string `yaml:"scopes"`             // default openid, email, profile
	GroupsClaim      string   `yaml:"groups_claim"`       // default "groups"
	// CLIClientID is a public client (no secret) of the same issuer that
	// `warden login` uses with the device flow; its ID tokens are accepted
	// as bearer tokens too. Empty: no device flow.
	CLIClientID string `yaml:"cli_client_id"`
}

// Validate checks the configuration without contacting the issuer.
func (c *Config) Validate() error {
	for name := range c.Roles {
		if _, err := ParseRole(name); err != nil {
			return fmt.Errorf("operators.roles: %w", err)
		}
	}
	if c.ServiceTokenRole != "" {
		if _, err := ParseRole(c.ServiceTokenRole); err != nil {
			return fmt.Errorf("operators.service_token_role: %w", err)
		}
	}
	o := c.OIDC
	if o.Issuer != "" && (o.ClientID == "" || o.RedirectURL == "") {
		return fmt.Errorf("operators.oidc: issuer needs client_id and redirect_url")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return fmt.Errorf("operators.tls: cert_file and key_file go together")
	}
	return nil
}

// ServiceRole is the role of the shared admin token.
func (c *Config) ServiceRole() Role {
	if r, err := ParseRole(c.ServiceTokenRole); err == nil {
		return r
	}
	return Admin
}

// RoleOf returns the strongest role any of groups grants.
func (c *Config) RoleOf(groups []string) Role {
	best := None
	for name, grant := range c.Roles {
		r, err := ParseRole(name)
		if err != nil || r <= best {
			continue
		}
		for _, g := range groups {
			if slices.Contains(grant, g) {
				best = r
				break
			}
		}
	}
	return best
}
