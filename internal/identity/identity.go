// Package identity lets clients use Warden without a static secret, and
// makes the secrets that remain useless off their intended machine. It
// provides three gateway Authenticators and one endpoint:
//
//   - OIDC (oidc.go): JWTs from configured OpenID Connect issuers (Entra ID
//     workload identity, Google, GitHub Actions, Kubernetes service
//     accounts). Keys come from the issuer's JWKS, found by discovery
//     (/.well-known/openid-configuration), cached for the answer's max-age
//     (1 minute to 24 hours, default 1 hour) and refetched when a token
//     names an unknown kid, at most every 30 seconds. Accepted algorithms:
//     RS*, PS*, ES*, EdDSA; never none or HS*. Checked: signature, iss
//     (exact), aud, exp (required), nbf and iat with 30s skew, sub.
//   - Tokens (token.go): POST /v1/warden/token exchanges a Warden key, an
//     OIDC JWT or a client certificate for a "wdt_" token valid for minutes
//     (Ed25519-signed JWT), bound to the caller's network and optionally to
//     a DPoP key (RFC 9449, dpop.go) or the client certificate (RFC 8705).
//   - MTLS (mtls.go): verified client certificates, by CN, SPIFFE ID or
//     other SAN.
//
// Each proven identity is mapped by the first matching policy either to a
// key_spec (the scope and limits a key has; the identity runs as
// "oidc:POLICY#SUBJECT" or "mtls:POLICY#SUBJECT", with limits and budget
// per identity) or to an existing key (key_id), whose status, scope,
// limits and budget it shares.
//
// # Mutual TLS and the gateway's connection wrapper
//
// The gateway wraps each accepted connection to read header order, so
// net/http never sees a *tls.Conn: r.TLS is nil and HTTP/2 is off (the
// listener offers only http/1.1 in ALPN). The peer certificates reach the
// authenticators through Options.TLSState, which the gateway implements by
// finding the connection in the request context (gateway.TLSState).
//
// Configuration: the tls and identity sections of the config file (see
// package config and docs/keyless.md).
package identity

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/keys"
)

// Authenticator is the gateway's: it returns (nil, nil) for a request it
// does not recognise, the key record to run the request under, or an error
// that refuses it with 401.
type Authenticator interface {
	Authenticate(ctx context.Context, r *http.Request, cred string, addr netip.Addr) (*keys.Key, error)
}

// Options assemble the identity services.
type Options struct {
	Config config.Identity
	// DataDir holds token.key unless the config names a signing key file.
	DataDir string
	// KeyByID looks keys up by id (token parents, key_id policies).
	// Required when tokens are enabled or a policy names a key_id.
	KeyByID KeyLookup
	// KeyByHash finds the key of a secret for the token endpoint; it
	// returns (nil, nil) when there is none. nil: keys cannot be exchanged.
	KeyByHash func(ctx context.Context, h keys.Hash) (*keys.Key, error)
	// ClientAddr is the client's address as the gateway sees it (trusted
	// proxies applied). nil means the socket peer.
	ClientAddr func(*http.Request) netip.Addr
	// TLSState returns the connection's TLS state or nil. nil means r.TLS.
	TLSState func(*http.Request) *tls.ConnectionState
	// HTTPClient fetches issuer documents; nil means a client with a 10s
	// timeout that does not follow redirects to other schemes.
	HTTPClient *http.Client
	// Publish receives one event per token request. nil publishes nothing.
	Publish func(context.Context, *event.Event)
	// Now returns the time; nil means time.Now.
	Now func() time.Time
}

// Set is the provisioned identity services. Fields are nil when off.
type Set struct {
	OIDC   *OIDC
	MTLS   *MTLS
	Tokens *Tokens
}

// New provisions the services the configuration enables. It fetches
// nothing: issuer keys are fetched on first use (see Warm).
func New(o Options) (*Set, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ClientAddr == nil {
		o.ClientAddr = remoteAddr
	}
	if o.TLSState == nil {
		o.TLSState = func(r *http.Request) *tls.ConnectionState { return r.TLS }
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: fetchTimeout, CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			return checkFetchURL(req.URL.String())
		}}
	}
	ps := &policies{lookup: o.KeyByID}
	s := &Set{}
	c := o.Config
	if len(c.OIDC.Issuers) > 0 {
		oi, err := newOIDC(c.OIDC, ps, o.HTTPClient, o.Now)
		if err != nil {
			return nil, err
		}
		s.OIDC = oi
	}
	if len(c.MTLS.Clients) > 0 {
		m, err := newMTLS(c.MTLS, ps, o.TLSState, o.Now())
		if err != nil {
			return nil, err
		}
		s.MTLS = m
	}
	for _, p := range ps.byName {
		if p.keyID != "" && o.KeyByID == nil {
			return nil, fmt.Errorf("identity: policy %q names key_id but no key look-up is configured", p.name)
		}
	}
	if c.Tokens.Enabled {
		path := c.Tokens.SigningKeyFile
		if path == "" {
			if o.DataDir == "" {
				return nil, errors.New("identity: tokens need a data directory or tokens.signing_key_file")
			}
			path = filepath.Join(o.DataDir, "token.key")
		}
		key, err := loadSigningKey(path)
		if err != nil {
			return nil, err
		}
		t, err := newTokens(c.Tokens, key)
		if err != nil {
			return nil, err
		}
		if o.KeyByID == nil {
			return nil, errors.New("identity: tokens need a key look-up")
		}
		t.policies, t.lookup, t.keyByHash, t.oidc, t.mtls = ps, o.KeyByID, o.KeyByHash, s.OIDC, s.MTLS
		t.addr, t.state, t.publish, t.now = o.ClientAddr, o.TLSState, o.Publish, o.Now
		s.Tokens = t
	}
	return s, nil
}

// Authenticators returns the enabled authenticators in the order the
// gateway should try them: short-lived tokens (a prefix check), OIDC JWTs,
// then client certificates (only for requests with no other credential).
func (s *Set) Authenticators() []Authenticator {
	var out []Authenticator
	if s.Tokens != nil {
		out = append(out, s.Tokens)
	}
	if s.OIDC != nil {
		out = append(out, s.OIDC)
	}
	if s.MTLS != nil {
		out = append(out, s.MTLS)
	}
	return out
}

// Routes returns the extra routes for the main listener.
func (s *Set) Routes() map[string]http.Handler {
	m := map[string]http.Handler{}
	if s.Tokens != nil {
		m[TokenPath] = s.Tokens
	}
	return m
}

// Warm fetches every issuer's keys once, so configuration mistakes show in
// the log at start-up rather than at the first request. Failures are
// returned joined; the services work regardless and retry on use.
func (s *Set) Warm(ctx context.Context) error {
	if s.OIDC == nil {
		return nil
	}
	var errs []error
	for _, is := range s.OIDC.issuers {
		if _, err := is.src.keysFor(ctx, "", "", s.OIDC.now()); err != nil && !errors.Is(err, errNoKey) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
