package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/keys"
)

// TokenPath is where clients exchange a credential for a short-lived token.
const TokenPath = "/v1/warden/token"

// TokenPrefix starts every short-lived token, so scanners find leaked ones
// and the gateway tells them from keys and OIDC JWTs without parsing.
const TokenPrefix = "wdt_"

const (
	tokenType       = "wdt+jwt"
	tokenAudience   = "warden"
	defaultTokenTTL = 10 * time.Minute
	maxTokenBytes   = 4 << 10
	tokenSkew       = 5 * time.Second
)

// tokenClaims are the claims of a short-lived token.
type tokenClaims struct {
	jwt.Claims
	// Net is the network (a prefix) the token was issued to.
	Net string `json:"net"`
	// Pol names the identity policy of the parent; "" when the parent is a
	// Warden key whose id is sub.
	Pol string `json:"pol,omitempty"`
	// Via is how the parent was proven: key, oidc or mtls.
	Via string `json:"via"`
	Cnf *cnf   `json:"cnf,omitempty"`
}

// cnf is the confirmation claim (RFC 7800): the key the bearer must also
// prove it holds.
type cnf struct {
	JKT string `json:"jkt,omitempty"`      // RFC 9449: DPoP key thumbprint
	X5T string `json:"x5t#S256,omitempty"` // RFC 8705: client certificate thumbprint
}

// Tokens issues short-lived tokens at TokenPath and accepts them on API
// requests. A token is an Ed25519-signed JWT behind the prefix "wdt_":
//
//	wdt_eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLiIsInR5cCI6IndkdCtqd3QifQ.eyJpc3MiOi...
//
// with claims iss, aud "warden", sub (the parent key id or identity
// subject), pol (the identity policy), iat, nbf, exp, jti, net (the
// network prefix it was issued to), via, and cnf when bound to a key
// (jkt, DPoP) or certificate (x5t#S256). On each use the signature, time,
// network and binding are checked and the parent is looked up again, so
// suspending or revoking the parent key stops its tokens at once.
type Tokens struct {
	issuer      string
	ttl         time.Duration
	key         *signingKey
	signer      jose.Signer
	v4bits      int
	v6bits      int
	requireDPoP bool
	dpop        *dpopVerifier
	verified    *verifiedCache[*tokenClaims]
	publicURL   *url.URL

	policies  *policies
	lookup    KeyLookup
	keyByHash func(context.Context, keys.Hash) (*keys.Key, error)
	oidc      *OIDC
	mtls      *MTLS
	addr      func(*http.Request) netip.Addr
	state     func(*http.Request) *tls.ConnectionState
	publish   func(context.Context, *event.Event)
	now       func() time.Time
}

func newTokens(c config.Tokens, key *signingKey) (*Tokens, error) {
	t := &Tokens{issuer: c.Issuer, ttl: c.TTL, key: key, v4bits: c.BindIPv4Bits, v6bits: c.BindIPv6Bits,
		requireDPoP: c.RequireDPoP, dpop: newDPoPVerifier(c.DPoPMaxAge), verified: newVerifiedCache[*tokenClaims](100_000)}
	if t.issuer == "" {
		t.issuer = "warden"
	}
	if t.ttl == 0 {
		t.ttl = defaultTokenTTL
	}
	if t.v4bits == 0 {
		t.v4bits = 32
	}
	if t.v6bits == 0 {
		t.v6bits = 64
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("identity: tokens.public_url %q: want scheme://host", c.PublicURL)
		}
		t.publicURL = u
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: key.priv},
		(&jose.SignerOptions{}).WithType(tokenType).WithHeader("kid", key.kid))
	if err != nil {
		return nil, fmt.Errorf("identity: token signer: %w", err)
	}
	t.signer = s
	return t, nil
}

// tokenError is an OAuth 2.0 error answer (RFC 6749 section 5.2).
type tokenError struct {
	status int
	code   string
	desc   string
	cause  error // logged, never sent
}

func (e *tokenError) Error() string { return e.code + ": " + e.desc }

var errBadCredential = &tokenError{status: 401, code: "invalid_client", desc: "The credential is missing, unknown, expired or not allowed to obtain tokens."}

// ServeHTTP answers POST /v1/warden/token. The caller proves who it is with
// "Authorization: Bearer" (a Warden key or an OIDC JWT), "api-key", or a
// client certificate; an optional DPoP header binds the token to the
// caller's key. The optional JSON body {"expires_in": SECONDS} asks for a
// shorter lifetime. The answer is OAuth-shaped:
//
//	{"access_token": "wdt_...", "token_type": "Bearer" or "DPoP", "expires_in": 600}
func (t *Tokens) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := t.now()
	ev := &event.Event{ID: "tok_" + randomHex(8), Time: now, Method: r.Method, Path: r.URL.Path, Endpoint: "warden.token"}
	resp, p, err := t.issue(r, now, ev)
	var te *tokenError
	if err != nil && !errors.As(err, &te) {
		te = &tokenError{status: 500, code: "server_error", desc: "The token could not be issued.", cause: err}
	}
	if te != nil {
		if te.cause != nil {
			slog.Info("identity: token refused", "request_id", ev.ID, "err", te.cause)
		}
		ev.Status, ev.ErrorCode, ev.Refusal = te.status, te.code, "auth"
		t.emit(r.Context(), ev)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		if te.status == 401 {
			h.Set("WWW-Authenticate", `Bearer realm="warden", error="invalid_token"`)
		}
		w.WriteHeader(te.status)
		json.NewEncoder(w).Encode(map[string]string{"error": te.code, "error_description": te.desc})
		return
	}
	ev.Status = 200
	t.emit(r.Context(), ev)
	slog.Info("identity: token issued", "request_id", ev.ID, "key_id", p.Key.ID, "via", p.Method, "token_type", resp.TokenType)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	json.NewEncoder(w).Encode(resp)
}

// TokenResponse is the answer of the token endpoint.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

func (t *Tokens) issue(r *http.Request, now time.Time, ev *event.Event) (*TokenResponse, *Principal, error) {
	if r.Method != http.MethodPost {
		return nil, nil, &tokenError{status: 405, code: "invalid_request", desc: "Use POST."}
	}
	addr := t.addr(r)
	ev.ClientIP = addr.String()
	var req struct {
		ExpiresIn int `json:"expires_in"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<10+1))
	if err != nil || len(body) > 4<<10 {
		return nil, nil, &tokenError{status: 400, code: "invalid_request", desc: "The body must be at most 4 KiB of JSON."}
	}
	if len(strings.TrimSpace(string(body))) > 0 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || req.ExpiresIn < 0 {
			return nil, nil, &tokenError{status: 400, code: "invalid_request", desc: `The body must be {"expires_in": SECONDS} or empty.`}
		}
	}
	p, err := t.caller(r, now)
	if p != nil {
		ev.KeyID, ev.KeyOwner, ev.KeyKind, ev.AuthMethod = p.Key.ID, p.Key.Owner, string(p.Key.Kind), p.Method
	}
	if err != nil {
		return nil, nil, err
	}
	if !p.Key.AllowsAddr(addr) {
		return nil, nil, &tokenError{status: 403, code: "access_denied", desc: "This credential may not be used from your network address."}
	}
	c := tokenClaims{Via: p.Method, Pol: p.Policy}
	if c.Net, err = t.network(addr); err != nil {
		return nil, nil, &tokenError{status: 400, code: "invalid_request", desc: "Your network address is unknown.", cause: err}
	}
	typ := "Bearer"
	switch proofs := r.Header.Values("DPoP"); {
	case len(proofs) > 1:
		return nil, nil, &tokenError{status: 400, code: "invalid_dpop_proof", desc: "Send one DPoP header."}
	case len(proofs) == 1:
		jkt, err := t.dpop.verify(proofs[0], r.Method, t.target(r), "", now)
		if err != nil {
			return nil, nil, &tokenError{status: 400, code: "invalid_dpop_proof", desc: "The DPoP proof is invalid.", cause: err}
		}
		c.Cnf, typ = &cnf{JKT: jkt}, "DPoP"
	case t.requireDPoP:
		return nil, nil, &tokenError{status: 400, code: "invalid_dpop_proof", desc: "This server issues only DPoP-bound tokens: send a DPoP proof."}
	}
	if p.Method == "mtls" {
		if c.Cnf == nil {
			c.Cnf = &cnf{}
		}
		c.Cnf.X5T = certThumbprint(t.state(r).PeerCertificates[0])
	}
	ttl := t.ttl
	if req.ExpiresIn > 0 && time.Duration(req.ExpiresIn)*time.Second < ttl {
		ttl = time.Duration(req.ExpiresIn) * time.Second
	}
	c.Issuer, c.Subject, c.Audience, c.ID = t.issuer, p.Subject, jwt.Audience{tokenAudience}, randomHex(16)
	c.IssuedAt, c.NotBefore, c.Expiry = jwt.NewNumericDate(now), jwt.NewNumericDate(now), jwt.NewNumericDate(now.Add(ttl))
	s, err := jwt.Signed(t.signer).Claims(c).Serialize()
	if err != nil {
		return nil, nil, fmt.Errorf("identity: sign token: %w", err)
	}
	return &TokenResponse{AccessToken: TokenPrefix + s, TokenType: typ, ExpiresIn: int(ttl / time.Second)}, p, nil
}

// caller authenticates the token endpoint's caller. Tokens cannot be
// exchanged for tokens: a stolen token must not outlive its exp.
func (t *Tokens) caller(r *http.Request, now time.Time) (*Principal, error) {
	cred := ""
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		cred = strings.TrimSpace(v)
	}
	if ak := strings.TrimSpace(r.Header.Get("Api-Key")); ak != "" {
		if cred != "" && subtle.ConstantTimeCompare([]byte(cred), []byte(ak)) != 1 {
			return nil, &tokenError{status: 401, code: "invalid_client", desc: "Send one credential.", cause: errors.New("two different credentials")}
		}
		cred = ak
	}
	ctx := r.Context()
	switch {
	case strings.HasPrefix(cred, TokenPrefix):
		return nil, &tokenError{status: 400, code: "invalid_grant", desc: "A short-lived token cannot be exchanged for another."}
	case cred == "":
		p, err := t.mtls.Identify(ctx, t.state(r))
		if err != nil {
			return nil, withCause(errBadCredential, err)
		}
		if p == nil {
			return nil, &tokenError{status: 401, code: "invalid_client", desc: "Send a Warden key or an identity token as Bearer, or a client certificate."}
		}
		return p, nil
	}
	if p, err := t.oidc.Verify(ctx, cred); p != nil || err != nil {
		if err != nil {
			return nil, withCause(errBadCredential, err)
		}
		return p, nil
	}
	if t.keyByHash == nil || len(cred) > 512 {
		return nil, errBadCredential
	}
	h := keys.HashOf(cred)
	k, err := t.keyByHash(ctx, h)
	if err != nil {
		return nil, fmt.Errorf("identity: key look-up: %w", err)
	}
	if k == nil || !keys.ValidChecksum(cred) || !k.Hash.Equal(h) {
		return nil, errBadCredential
	}
	p := &Principal{Subject: k.ID, Method: "key", Key: k}
	if k.Kind == keys.KindCanary {
		// A decoy is never given to a real client: whoever sends it is an
		// attacker, who gets the same answer as for an unknown key.
		slog.Warn("identity: canary key presented at the token endpoint", "key_id", k.ID)
		return p, errBadCredential
	}
	if ok, why := k.Usable(now); !ok {
		return p, withCause(errBadCredential, errors.New(why))
	}
	return p, nil
}

func withCause(e *tokenError, cause error) *tokenError {
	c := *e
	c.cause = cause
	return &c
}

// network returns the prefix a token issued to addr is bound to.
func (t *Tokens) network(addr netip.Addr) (string, error) {
	if !addr.IsValid() {
		return "", errors.New("identity: no client address")
	}
	bits := t.v6bits
	if addr.Is4() {
		bits = t.v4bits
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return "", err
	}
	return p.String(), nil
}

// target is the URL the client addressed, for DPoP's htu.
func (t *Tokens) target(r *http.Request) *url.URL {
	u := &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath}
	if t.state(r) != nil {
		u.Scheme = "https"
	}
	if t.publicURL != nil {
		u.Scheme, u.Host = t.publicURL.Scheme, t.publicURL.Host
	}
	return u
}

// Authenticate implements the gateway's Authenticator for short-lived
// tokens, sent as "Authorization: Bearer wdt_..." (or api-key), or as
// "Authorization: DPoP wdt_..." with a DPoP proof when the token is bound
// to a key.
func (t *Tokens) Authenticate(ctx context.Context, r *http.Request, cred string, addr netip.Addr) (*keys.Key, error) {
	tok, scheme := cred, "Bearer"
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "DPoP "); ok {
		tok, scheme = strings.TrimSpace(v), "DPoP"
	}
	if !strings.HasPrefix(tok, TokenPrefix) {
		return nil, nil
	}
	now := t.now()
	c, err := t.parse(tok, now)
	if err != nil {
		return nil, err
	}
	if pfx, err := netip.ParsePrefix(c.Net); err != nil || !pfx.Contains(addr.Unmap()) {
		return nil, fmt.Errorf("identity: token %s issued to %s presented from %s", c.ID, c.Net, addr)
	}
	switch {
	case c.Cnf != nil && c.Cnf.JKT != "":
		if scheme != "DPoP" {
			return nil, fmt.Errorf("identity: token %s is DPoP-bound; use the DPoP scheme", c.ID)
		}
		proofs := r.Header.Values("DPoP")
		if len(proofs) != 1 {
			return nil, fmt.Errorf("identity: token %s: want one DPoP proof, got %d", c.ID, len(proofs))
		}
		jkt, err := t.dpop.verify(proofs[0], r.Method, t.target(r), tok, now)
		if err != nil {
			return nil, err
		}
		if subtle.ConstantTimeCompare([]byte(jkt), []byte(c.Cnf.JKT)) != 1 {
			return nil, fmt.Errorf("identity: token %s: DPoP proof from another key", c.ID)
		}
	case scheme == "DPoP":
		return nil, fmt.Errorf("identity: token %s is not DPoP-bound; use the Bearer scheme", c.ID)
	}
	if c.Cnf != nil && c.Cnf.X5T != "" {
		st := t.state(r)
		if st == nil || len(st.PeerCertificates) == 0 || len(st.VerifiedChains) == 0 ||
			subtle.ConstantTimeCompare([]byte(certThumbprint(st.PeerCertificates[0])), []byte(c.Cnf.X5T)) != 1 {
			return nil, fmt.Errorf("identity: token %s is bound to a client certificate this connection lacks", c.ID)
		}
	}
	return t.parent(ctx, c, now)
}

// parse verifies a token's signature and times. The claims returned are
// shared: callers must not modify them.
func (t *Tokens) parse(tok string, now time.Time) (*tokenClaims, error) {
	if len(tok) > maxTokenBytes {
		return nil, errors.New("identity: token too long")
	}
	if c, ok := t.verified.get(tok, now); ok {
		return c, nil
	}
	jt, err := jwt.ParseSigned(tok[len(TokenPrefix):], []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return nil, fmt.Errorf("identity: token: %w", err)
	}
	h := jt.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != tokenType || h.KeyID != t.key.kid {
		return nil, errors.New("identity: token: not signed by this server's token key")
	}
	var c tokenClaims
	if err := jt.Claims(t.key.pub, &c); err != nil {
		return nil, fmt.Errorf("identity: token: %w", err)
	}
	if c.Expiry == nil || c.IssuedAt == nil || c.Subject == "" {
		return nil, errors.New("identity: token: missing exp, iat or sub")
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: t.issuer, AnyAudience: jwt.Audience{tokenAudience}, Time: now}, tokenSkew); err != nil {
		return nil, fmt.Errorf("identity: token %s: %w", c.ID, err)
	}
	if c.Expiry.Time().Sub(c.IssuedAt.Time()) > time.Hour {
		return nil, fmt.Errorf("identity: token %s: lifetime over 1h", c.ID)
	}
	t.verified.put(tok, &c, c.Expiry.Time().Add(tokenSkew), now)
	return &c, nil
}

// parent returns the key record a token runs under, looked up afresh.
func (t *Tokens) parent(ctx context.Context, c *tokenClaims, now time.Time) (*keys.Key, error) {
	if c.Pol != "" {
		p := t.policies.byName[c.Pol]
		if p == nil {
			return nil, fmt.Errorf("identity: token %s: policy %q no longer exists", c.ID, c.Pol)
		}
		return t.policies.resolve(ctx, p, c.Subject)
	}
	if t.lookup == nil {
		return nil, errors.New("identity: no key look-up configured")
	}
	k, err := t.lookup(ctx, c.Subject)
	if err != nil || k == nil {
		return nil, fmt.Errorf("identity: token %s: parent key %s: %w", c.ID, c.Subject, errOrNotFound(err))
	}
	if ok, why := k.Usable(now); !ok {
		return nil, fmt.Errorf("identity: token %s: parent key %s: %s", c.ID, k.ID, why)
	}
	if k.Kind == keys.KindCanary {
		return nil, fmt.Errorf("identity: token %s: parent %s is a canary", c.ID, k.ID)
	}
	return k, nil
}

func errOrNotFound(err error) error {
	if err != nil {
		return err
	}
	return errors.New("not found")
}

func (t *Tokens) emit(ctx context.Context, ev *event.Event) {
	if t.publish != nil {
		ev.Duration = t.now().Sub(ev.Time)
		t.publish(context.WithoutCancel(ctx), ev)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// remoteAddr is the default client address: the socket peer.
func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}
