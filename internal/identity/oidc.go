package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/keys"
)

// maxJWTBytes bounds a presented JWT. Entra ID access tokens with many
// group claims run to a few KiB.
const maxJWTBytes = 16 << 10

// issuerAlgs are the signature algorithms accepted from issuers: asymmetric
// only. "none" and the HMAC family are never accepted (an HS256 token
// "signed" with a public key is the classic confusion attack).
var issuerAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

const (
	defaultSkew = 30 * time.Second
	maxSkew     = 5 * time.Minute
)

// Principal is who a credential proved the caller to be, and the key record
// its requests run under.
type Principal struct {
	// Policy names the identity policy that matched; "" for a Warden key.
	Policy string
	// Subject is the issuer's subject, the certificate's SPIFFE ID or CN,
	// or, for a Warden key, its id.
	Subject string
	// Method is how it was proven: "oidc", "mtls", "key" or "token".
	Method string
	Key    *keys.Key
}

// OIDC accepts JWTs from configured OpenID Connect issuers (workload
// identity): it verifies the signature with the issuer's published keys,
// then issuer, audience, expiry and not-before with a small clock skew, and
// maps the token's claims to a policy.
type OIDC struct {
	issuers  map[string]*issuer
	policies *policies
	now      func() time.Time
	verified *verifiedCache[oidcMatch]
}

// oidcMatch is what a verified token proved: its subject and the policy
// its claims matched.
type oidcMatch struct {
	policy  *policy
	subject string
}

type issuer struct {
	name     string
	audience string
	skew     time.Duration
	maxLife  time.Duration
	src      *keySource
	policies []*policy
}

func newOIDC(cfg config.OIDC, ps *policies, client *http.Client, now func() time.Time) (*OIDC, error) {
	o := &OIDC{issuers: map[string]*issuer{}, policies: ps, now: now, verified: newVerifiedCache[oidcMatch](100_000)}
	for i, ic := range cfg.Issuers {
		if err := checkFetchURL(ic.Issuer); err != nil {
			return nil, fmt.Errorf("identity: oidc issuer %d: %w", i, err)
		}
		if ic.JWKSURL != "" {
			if err := checkFetchURL(ic.JWKSURL); err != nil {
				return nil, fmt.Errorf("identity: oidc issuer %s: jwks_url: %w", ic.Issuer, err)
			}
		}
		if _, dup := o.issuers[ic.Issuer]; dup {
			return nil, fmt.Errorf("identity: oidc issuer %s configured twice", ic.Issuer)
		}
		skew := ic.ClockSkew
		if skew == 0 {
			skew = defaultSkew
		}
		if skew < 0 || skew > maxSkew {
			return nil, fmt.Errorf("identity: oidc issuer %s: clock_skew must be at most %s", ic.Issuer, maxSkew)
		}
		is := &issuer{name: ic.Issuer, audience: ic.Audience, skew: skew, maxLife: ic.MaxTokenLifetime,
			src: &keySource{issuer: ic.Issuer, jwksURL: ic.JWKSURL, client: client}}
		for j, pc := range ic.Policies {
			p, err := newPolicy("oidc", j, pc, now())
			if err != nil {
				return nil, fmt.Errorf("%w (issuer %s)", err, ic.Issuer)
			}
			if err := ps.add(p); err != nil {
				return nil, err
			}
			is.policies = append(is.policies, p)
		}
		o.issuers[ic.Issuer] = is
	}
	return o, nil
}

// Authenticate implements the gateway's Authenticator.
func (o *OIDC) Authenticate(ctx context.Context, _ *http.Request, cred string, _ netip.Addr) (*keys.Key, error) {
	p, err := o.Verify(ctx, cred)
	if p == nil || err != nil {
		return nil, err
	}
	return p.Key, nil
}

// Verify checks cred as a JWT of a configured issuer. It returns (nil, nil)
// when cred is not a JWT or names an issuer that is not configured.
func (o *OIDC) Verify(ctx context.Context, cred string) (*Principal, error) {
	if o == nil || len(o.issuers) == 0 {
		return nil, nil
	}
	now := o.now()
	if len(cred) <= maxJWTBytes {
		if m, ok := o.verified.get(cred, now); ok {
			return o.principal(ctx, m)
		}
	}
	iss, ok := peekIssuer(cred)
	if !ok {
		return nil, nil
	}
	is := o.issuers[iss]
	if is == nil {
		return nil, nil
	}
	tok, err := jwt.ParseSigned(cred, issuerAlgs)
	if err != nil {
		return nil, fmt.Errorf("identity: token of %s: %w", iss, err)
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); strings.EqualFold(typ, dpopType) {
		return nil, errors.New("identity: a DPoP proof is not an access token")
	}
	cands, err := is.src.keysFor(ctx, h.KeyID, h.Algorithm, now)
	if err != nil {
		return nil, err
	}
	var std jwt.Claims
	var claims map[string]any
	verified := false
	for i, k := range cands {
		if i >= 10 {
			break
		}
		if err := tok.Claims(k.Key, &std, &claims); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, fmt.Errorf("%w (issuer %s, kid %q)", errNoKey, iss, h.KeyID)
	}
	if std.Expiry == nil {
		return nil, fmt.Errorf("identity: token of %s has no exp", iss)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: is.name, AnyAudience: jwt.Audience{is.audience}, Time: now}, is.skew); err != nil {
		return nil, fmt.Errorf("identity: token of %s (sub %q): %w", iss, truncate(std.Subject, 200), err)
	}
	if is.maxLife > 0 {
		from := now
		if std.IssuedAt != nil {
			from = std.IssuedAt.Time()
		}
		if std.Expiry.Time().Sub(from) > is.maxLife+is.skew {
			return nil, fmt.Errorf("identity: token of %s is valid longer than max_token_lifetime %s", iss, is.maxLife)
		}
	}
	if std.Subject == "" {
		return nil, fmt.Errorf("identity: token of %s has no sub", iss)
	}
	p := first(is.policies, claims)
	if p == nil {
		return nil, fmt.Errorf("%w (issuer %s, sub %q)", ErrNoPolicy, iss, truncate(std.Subject, 200))
	}
	m := oidcMatch{policy: p, subject: std.Subject}
	o.verified.put(cred, m, std.Expiry.Time().Add(is.skew), now)
	return o.principal(ctx, m)
}

func (o *OIDC) principal(ctx context.Context, m oidcMatch) (*Principal, error) {
	k, err := o.policies.resolve(ctx, m.policy, m.subject)
	if err != nil {
		return nil, err
	}
	return &Principal{Policy: m.policy.name, Subject: m.subject, Method: "oidc", Key: k}, nil
}

// peekIssuer reads "iss" from an unverified compact JWT, only to pick the
// issuer whose keys verify it. It rejects anything that is not shaped like
// a JWT, cheaply.
func peekIssuer(cred string) (string, bool) {
	if len(cred) > maxJWTBytes || !strings.HasPrefix(cred, "eyJ") || strings.Count(cred, ".") != 2 {
		return "", false
	}
	parts := strings.SplitN(cred, ".", 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(payload, &c) != nil || c.Iss == "" {
		return "", false
	}
	return c.Iss, true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
