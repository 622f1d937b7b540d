package identity

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/identity/identitytest"
	"github.com/wardenhq/warden/internal/keys"
)

func oidcConfig(is *identitytest.Issuer, templateKey string) config.Identity {
	pols := []config.IdentityPolicy{
		{Name: "deploy", Match: map[string]string{"repository": "acme/*", "ref": "refs/heads/main"},
			KeySpec: &config.KeySpec{Name: "deploy", Owner: "team-deploy", Models: []string{"mock-echo"}, RPM: 60}},
		{Name: "ci", Match: map[string]string{"sub": "repo:acme/*"},
			KeySpec: &config.KeySpec{Name: "ci", Owner: "team-ci", RPM: 10, MonthlyBudgetUSD: 5}},
		{Name: "k8s", Match: map[string]string{"kubernetes.io.namespace": "ml", "groups": "ml-*"},
			KeySpec: &config.KeySpec{Name: "k8s-ml", CIDRs: []string{"10.0.0.0/8"}}},
	}
	if templateKey != "" {
		pols = append(pols, config.IdentityPolicy{Name: "shared", Match: map[string]string{"sub": "shared-*"}, KeyID: templateKey})
	}
	return config.Identity{OIDC: config.OIDC{Issuers: []config.Issuer{{Issuer: is.URL, Audience: "warden", Policies: pols}}}}
}

func TestOIDCVerify(t *testing.T) {
	is := identitytest.NewIssuer(t)
	st := newTestStore(t)
	tmpl, _ := st.create(t, keys.Spec{Name: "shared-template", Models: []string{"mock-lorem"}})
	set, err := New(Options{Config: oidcConfig(is, tmpl.ID), KeyByID: st.KeyByID})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	hs := func() string { // HS256 "signed" with the issuer's public key bytes: key confusion
		head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"rsa-1","typ":"JWT"}`))
		body, _ := json.Marshal(map[string]any{"iss": is.URL, "aud": "warden", "sub": "repo:acme/x", "exp": now.Add(time.Hour).Unix()})
		pl := base64.RawURLEncoding.EncodeToString(body)
		m := hmac.New(sha256.New, []byte("public key"))
		m.Write([]byte(head + "." + pl))
		return head + "." + pl + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	none := func() string {
		head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`))
		body, _ := json.Marshal(map[string]any{"iss": is.URL, "aud": "warden", "sub": "repo:acme/x", "exp": now.Add(time.Hour).Unix()})
		return head + "." + base64.RawURLEncoding.EncodeToString(body) + "."
	}
	tests := []struct {
		name    string
		token   string
		wantID  string // "" with wantErr false: not recognised
		wantErr bool
	}{
		{"RS256 first policy", is.Sign(t, "rsa-1", map[string]any{"ref": "refs/heads/main"}), "oidc:deploy#repo:acme/app:ref:refs/heads/main", false},
		{"ES256 second policy", is.Sign(t, "ec-1", nil), "oidc:ci#repo:acme/app:ref:refs/heads/main", false},
		{"nested claim and list", is.Sign(t, "ec-1", map[string]any{"sub": "system:serviceaccount:ml:batch",
			"kubernetes.io": map[string]any{"namespace": "ml"}, "groups": []string{"dev", "ml-train"}}), "oidc:k8s#system:serviceaccount:ml:batch", false},
		{"key_id template", is.Sign(t, "rsa-1", map[string]any{"sub": "shared-runner"}), tmpl.ID, false},
		{"audience list", is.Sign(t, "rsa-1", map[string]any{"aud": []string{"other", "warden"}}), "oidc:ci#repo:acme/app:ref:refs/heads/main", false},
		{"within skew", is.Sign(t, "rsa-1", map[string]any{"exp": now.Add(-10 * time.Second).Unix()}), "oidc:ci#repo:acme/app:ref:refs/heads/main", false},
		{"no policy", is.Sign(t, "rsa-1", map[string]any{"sub": "repo:evil/app", "repository": "evil/app"}), "", true},
		{"wrong audience", is.Sign(t, "rsa-1", map[string]any{"aud": "api://other"}), "", true},
		{"expired", is.Sign(t, "rsa-1", map[string]any{"exp": now.Add(-2 * time.Minute).Unix()}), "", true},
		{"not yet valid", is.Sign(t, "rsa-1", map[string]any{"nbf": now.Add(2 * time.Minute).Unix()}), "", true},
		{"issued in the future", is.Sign(t, "rsa-1", map[string]any{"iat": now.Add(2 * time.Minute).Unix()}), "", true},
		{"no exp", is.Sign(t, "rsa-1", map[string]any{"exp": nil}), "", true},
		{"no sub", is.Sign(t, "rsa-1", map[string]any{"sub": nil}), "", true},
		{"tampered", tamper(is.Sign(t, "rsa-1", nil)), "", true},
		{"HS256 key confusion", hs(), "", true},
		{"alg none", none(), "", true},
		{"unknown issuer", strings.Replace(is.Sign(t, "rsa-1", map[string]any{"iss": "https://elsewhere.example"}), "x", "x", 1), "", false},
		{"not a JWT", "wdn_notajwt", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := set.OIDC.Authenticate(context.Background(), httptest.NewRequest("POST", "/", nil), tc.token, netip.MustParseAddr("127.0.0.1"))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("accepted: %+v", k)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if k != nil {
				got = k.ID
			}
			if got != tc.wantID {
				t.Fatalf("key %q, want %q", got, tc.wantID)
			}
		})
	}
	// The policy's scope and limits are the key's.
	k, _ := set.OIDC.Authenticate(context.Background(), nil, is.Sign(t, "rsa-1", map[string]any{"ref": "refs/heads/main"}), netip.Addr{})
	if k.RPM != 60 || k.Owner != "team-deploy" || !k.AllowsModel("mock-echo") || k.AllowsModel("mock-lorem") || k.Status != keys.StatusActive {
		t.Fatalf("policy not applied: %+v", k)
	}
	if n := is.JWKSFetches.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times, want 1 (cached)", n)
	}
}

func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	body, _ := base64.RawURLEncoding.DecodeString(parts[1])
	body = []byte(strings.Replace(string(body), "acme/app", "acme/apq", 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(body)
	return strings.Join(parts, ".")
}

// TestOIDCKeyRotation: the issuer rotates its keys; a token with the new
// kid makes Warden refetch, without restart, and a flood of unknown kids
// makes at most one fetch per interval.
func TestOIDCKeyRotation(t *testing.T) {
	is := identitytest.NewIssuer(t)
	now := time.Now()
	is.Now = func() time.Time { return now }
	set, err := New(Options{Config: oidcConfig(is, ""), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	firstTok := is.Sign(t, "rsa-1", nil)
	if _, err := set.OIDC.Verify(ctx, firstTok); err != nil {
		t.Fatal(err)
	}
	is.AddKey(t, "rsa-2", jose.RS256)
	is.RemoveKey("rsa-1")
	now = now.Add(minRefetch + time.Second)
	if _, err := set.OIDC.Verify(ctx, is.Sign(t, "rsa-2", nil)); err != nil {
		t.Fatalf("rotated key not picked up: %v", err)
	}
	if n := is.JWKSFetches.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times, want 2", n)
	}
	// Unknown kids within the interval: no fetch.
	for i := 0; i < 50; i++ {
		if _, err := set.OIDC.Verify(ctx, is.Sign(t, "ec-1", map[string]any{})); err != nil {
			t.Fatal(err) // known kid still works
		}
		is.AddKey(t, "new", jose.ES256)
		p, err := set.OIDC.Verify(ctx, is.Sign(t, "new", nil))
		is.RemoveKey("new")
		if err == nil || p != nil || !errors.Is(err, errNoKey) {
			t.Fatalf("unknown kid: %v %v", p, err)
		}
	}
	if n := is.JWKSFetches.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times during a flood of unknown kids, want 2", n)
	}
	now = now.Add(minRefetch + time.Second)
	is.AddKey(t, "rsa-3", jose.RS256)
	if _, err := set.OIDC.Verify(ctx, is.Sign(t, "rsa-3", nil)); err != nil {
		t.Fatalf("after the interval: %v", err)
	}
	if n := is.JWKSFetches.Load(); n != 3 {
		t.Fatalf("JWKS fetched %d times, want 3", n)
	}
	// The cache expires after the answer's max-age; verified tokens expire
	// with their exp.
	now = now.Add(2 * time.Hour)
	if p, err := set.OIDC.Verify(ctx, firstTok); err == nil {
		t.Fatalf("expired token accepted from the verified cache: %+v", p)
	}
	if _, err := set.OIDC.Verify(ctx, is.Sign(t, "rsa-3", nil)); err != nil {
		t.Fatal(err)
	}
	if n := is.JWKSFetches.Load(); n != 4 {
		t.Fatalf("JWKS fetched %d times after expiry, want 4", n)
	}
	// The issuer goes down: cached keys keep working.
	is.Close()
	now = now.Add(2 * time.Hour)
	if _, err := set.OIDC.Verify(ctx, is.Sign(t, "rsa-3", nil)); err != nil {
		t.Fatalf("issuer down, cached key: %v", err)
	}
}

func TestOIDCConfigErrors(t *testing.T) {
	is := identitytest.NewIssuer(t)
	base := oidcConfig(is, "")
	tests := []struct {
		name string
		edit func(c *config.Identity)
	}{
		{"http issuer elsewhere", func(c *config.Identity) { c.OIDC.Issuers[0].Issuer = "http://example.com" }},
		{"duplicate policy", func(c *config.Identity) {
			c.OIDC.Issuers[0].Policies = append(c.OIDC.Issuers[0].Policies, c.OIDC.Issuers[0].Policies[0])
		}},
		{"neither spec nor key", func(c *config.Identity) { c.OIDC.Issuers[0].Policies[0].KeySpec = nil }},
		{"bad cidr", func(c *config.Identity) { c.OIDC.Issuers[0].Policies[0].KeySpec.CIDRs = []string{"nope"} }},
		{"key_id without look-up", func(c *config.Identity) {
			c.OIDC.Issuers[0].Policies[0].KeySpec, c.OIDC.Issuers[0].Policies[0].KeyID = nil, "key_x"
		}},
		{"huge skew", func(c *config.Identity) { c.OIDC.Issuers[0].ClockSkew = time.Hour }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			c.OIDC.Issuers = []config.Issuer{base.OIDC.Issuers[0]}
			c.OIDC.Issuers[0].Policies = nil
			for _, p := range base.OIDC.Issuers[0].Policies {
				cp := p
				if p.KeySpec != nil {
					ks := *p.KeySpec
					cp.KeySpec = &ks
				}
				c.OIDC.Issuers[0].Policies = append(c.OIDC.Issuers[0].Policies, cp)
			}
			tc.edit(&c)
			if _, err := New(Options{Config: c}); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		pat, s string
		want   bool
	}{
		{"*", "", true}, {"*", "anything/at:all", true}, {"repo:acme/*", "repo:acme/app:ref:refs/heads/main", true},
		{"repo:acme/*", "repo:acmex/app", false}, {"a?c", "abc", true}, {"a?c", "ac", false},
		{"*main", "refs/heads/main", true}, {"*main", "refs/heads/main2", false}, {"a*b*c", "aXbYbZc", true},
		{"exact", "exact", true}, {"exact", "exactly", false}, {"", "", true}, {"", "x", false},
	}
	for _, tc := range tests {
		if got := glob(tc.pat).match(tc.s); got != tc.want {
			t.Errorf("%q ~ %q = %v, want %v", tc.pat, tc.s, got, tc.want)
		}
	}
}
