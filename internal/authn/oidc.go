package authn

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// ErrNoRole means the person signed in but none of their groups maps to a role.
var ErrNoRole = errors.New("authn: signed in, but no role is granted to this person's groups")

// Provider signs operators in with an OpenID Connect identity provider:
// the authorization code flow with PKCE (S256) and a nonce, ID tokens
// verified against the issuer's published keys (go-oidc), and the
// person's groups mapped to a role by Config.Roles.
type Provider struct {
	cfg      *Config
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
	cli      *oidc.IDTokenVerifier // ID tokens of the CLI's client, nil without one
	client   *http.Client
}

// NewProvider fetches the issuer's discovery document. client may be nil
// (http.DefaultClient with a 10s timeout).
func NewProvider(ctx context.Context, cfg *Config, client *http.Client) (*Provider, error) {
	o := cfg.OIDC
	if o.Issuer == "" {
		return nil, errors.New("authn: no OIDC issuer configured")
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	secret := o.ClientSecret
	if o.ClientSecretFile != "" {
		b, err := os.ReadFile(o.ClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("authn: client secret: %w", err)
		}
		secret = strings.TrimSpace(string(b))
	}
	ctx = oidc.ClientContext(ctx, client)
	p, err := oidc.NewProvider(ctx, o.Issuer)
	if err != nil {
		return nil, fmt.Errorf("authn: discovery of %s: %w", o.Issuer, err)
	}
	scopes := o.Scopes
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	}
	var cli *oidc.IDTokenVerifier
	if o.CLIClientID != "" {
		cli = p.Verifier(&oidc.Config{ClientID: o.CLIClientID})
	}
	return &Provider{
		cfg:      cfg,
		client:   client,
		cli:      cli,
		verifier: p.Verifier(&oidc.Config{ClientID: o.ClientID}),
		oauth: oauth2.Config{ClientID: o.ClientID, ClientSecret: secret, RedirectURL: o.RedirectURL,
			Endpoint: p.Endpoint(), Scopes: scopes},
	}, nil
}

// Login is what a sign-in in progress must remember until the callback:
// kept server-side, found again by State.
type Login struct {
	State, Nonce, Verifier string
	Started                time.Time
}

// Start begins a sign-in: the URL to send the browser to, and what to
// remember for the callback.
func (p *Provider) Start(now time.Time) (string, Login) {
	l := Login{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), Started: now}
	u := p.oauth.AuthCodeURL(l.State, oidc.Nonce(l.Nonce), oauth2.S256ChallengeOption(l.Verifier))
	return u, l
}

// Finish exchanges the code of a callback for tokens, verifies the ID token
// (issuer, audience, expiry, signature, nonce) and returns the principal.
// A person whose groups grant no role gets ErrNoRole with their principal.
func (p *Provider) Finish(ctx context.Context, l Login, code string) (Principal, error) {
	ctx = oidc.ClientContext(context.WithValue(ctx, oauth2.HTTPClient, p.client), p.client)
	tok, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(l.Verifier))
	if err != nil {
		return Principal{}, fmt.Errorf("authn: code exchange: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return Principal{}, errors.New("authn: the token answer has no id_token")
	}
	pr, nonce, err := p.verify(ctx, p.verifier, raw)
	if err != nil {
		return Principal{}, err
	}
	if nonce != l.Nonce {
		return Principal{}, errors.New("authn: ID token nonce does not match the sign-in")
	}
	pr.Method = "oidc"
	if pr.Role == None {
		return pr, ErrNoRole
	}
	return pr, nil
}

// Bearer verifies an ID token sent as a bearer token (by the CLI or a
// script holding a person's token from the identity provider).
func (p *Provider) Bearer(ctx context.Context, raw string) (Principal, error) {
	ctx = oidc.ClientContext(ctx, p.client)
	pr, _, err := p.verify(ctx, p.verifier, raw)
	if err != nil && p.cli != nil {
		pr, _, err = p.verify(ctx, p.cli, raw) // a token of `warden login`
	}
	if err != nil {
		return Principal{}, err
	}
	pr.Method = "bearer-oidc"
	if pr.Role == None {
		return pr, ErrNoRole
	}
	return pr, nil
}

func (p *Provider) verify(ctx context.Context, v *oidc.IDTokenVerifier, raw string) (Principal, string, error) {
	idt, err := v.Verify(ctx, raw)
	if err != nil {
		return Principal{}, "", fmt.Errorf("authn: ID token: %w", err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return Principal{}, "", fmt.Errorf("authn: ID token claims: %w", err)
	}
	str := func(k string) string { s, _ := claims[k].(string); return s }
	pr := Principal{Subject: idt.Subject, Email: str("email"), Name: str("name")}
	if v, ok := claims["email_verified"].(bool); ok && !v {
		pr.Email = "" // an unverified address must not name anyone in the audit log
	}
	gc := p.cfg.OIDC.GroupsClaim
	if gc == "" {
		gc = "groups"
	}
	var groups []string
	switch g := claims[gc].(type) {
	case []any:
		for _, v := range g {
			if s, ok := v.(string); ok {
				groups = append(groups, s)
			}
		}
	case string:
		groups = strings.Fields(g)
	}
	pr.Role = p.cfg.RoleOf(groups)
	return pr, str("nonce"), nil
}

// CLILogin is what `warden login` needs to sign a person in with the
// device flow; the console publishes it at /console/auth.
type CLILogin struct {
	Issuer   string   `json:"issuer"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes"`
}

// CLI returns the device-flow client, or nil when none is configured.
func (p *Provider) CLI() *CLILogin {
	if p.cli == nil {
		return nil
	}
	return &CLILogin{Issuer: p.cfg.OIDC.Issuer, ClientID: p.cfg.OIDC.CLIClientID, Scopes: p.oauth.Scopes}
}

// DeviceLogin signs a person in with the device flow (RFC 8628): show tells
// them where to go and which code to enter; it returns their ID token and
// its expiry once they have approved (or ctx ends). The token is verified
// before it is returned.
func DeviceLogin(ctx context.Context, l CLILogin, client *http.Client, show func(uri, code string)) (string, time.Time, error) {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	ctx = oidc.ClientContext(context.WithValue(ctx, oauth2.HTTPClient, client), client)
	p, err := oidc.NewProvider(ctx, l.Issuer)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("authn: discovery of %s: %w", l.Issuer, err)
	}
	ep := p.Endpoint()
	if ep.DeviceAuthURL == "" {
		return "", time.Time{}, errors.New("authn: the identity provider offers no device flow")
	}
	oc := oauth2.Config{ClientID: l.ClientID, Endpoint: ep, Scopes: l.Scopes}
	da, err := oc.DeviceAuth(ctx)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("authn: device authorization: %w", err)
	}
	uri := da.VerificationURIComplete
	if uri == "" {
		uri = da.VerificationURI
	}
	show(uri, da.UserCode)
	tok, err := oc.DeviceAccessToken(ctx, da)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("authn: device sign-in: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return "", time.Time{}, errors.New("authn: the token answer has no id_token")
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: l.ClientID}).Verify(ctx, raw)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("authn: ID token: %w", err)
	}
	return raw, idt.Expiry, nil
}

func random() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
