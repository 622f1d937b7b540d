package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/identity/identitytest"
	"github.com/wardenhq/warden/internal/keys"
)

type tokenEnv struct {
	t      testing.TB
	st     *testStore
	set    *Set
	now    time.Time
	events []*event.Event
	dir    string
}

func newTokenEnv(t testing.TB, tc config.Tokens, id config.Identity) *tokenEnv {
	t.Helper()
	e := &tokenEnv{t: t, st: newTestStore(t), now: time.Now(), dir: t.TempDir()}
	tc.Enabled = true
	id.Tokens = tc
	set, err := New(Options{Config: id, DataDir: e.dir, KeyByID: e.st.KeyByID, KeyByHash: e.st.byHash,
		Now: func() time.Time { return e.now }, Publish: func(_ context.Context, ev *event.Event) { e.events = append(e.events, ev) }})
	if err != nil {
		t.Fatal(err)
	}
	e.set = set
	return e
}

// exchange calls the token endpoint from addr with the given headers.
func (e *tokenEnv) exchange(addr string, body string, hdr map[string]string) (int, TokenResponse, map[string]string) {
	e.t.Helper()
	r := httptest.NewRequest("POST", "http://warden.test"+TokenPath, strings.NewReader(body))
	r.RemoteAddr = net.JoinHostPort(addr, "40000")
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.set.Tokens.ServeHTTP(w, r)
	var ok TokenResponse
	var bad map[string]string
	if w.Code == 200 {
		json.Unmarshal(w.Body.Bytes(), &ok)
		if w.Header().Get("Cache-Control") != "no-store" {
			e.t.Error("token answer may be cached")
		}
	} else {
		json.Unmarshal(w.Body.Bytes(), &bad)
	}
	return w.Code, ok, bad
}

// use presents tok on an API request from addr.
func (e *tokenEnv) use(addr, tok string, hdr map[string]string) (*keys.Key, error) {
	r := httptest.NewRequest("POST", "http://warden.test/v1/chat/completions", nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	cred := tok
	if strings.HasPrefix(r.Header.Get("Authorization"), "DPoP ") {
		cred = ""
	}
	return e.set.Tokens.Authenticate(context.Background(), r, cred, netip.MustParseAddr(addr))
}

func TestTokenExchange(t *testing.T) {
	e := newTokenEnv(t, config.Tokens{}, config.Identity{})
	ctx := context.Background()
	parent, secret := e.st.create(t, keys.Spec{Name: "app", RPM: 30})
	fi, err := os.Stat(filepath.Join(e.dir, "token.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token.key: %v %v", fi, err)
	}

	code, tr, _ := e.exchange("127.0.0.1", "", map[string]string{"Authorization": "Bearer " + secret})
	if code != 200 || tr.TokenType != "Bearer" || tr.ExpiresIn != 600 || !strings.HasPrefix(tr.AccessToken, TokenPrefix) {
		t.Fatalf("exchange: %d %+v", code, tr)
	}
	if strings.Contains(tr.AccessToken, secret) {
		t.Fatal("token carries the key")
	}
	k, err := e.use("127.0.0.1", tr.AccessToken, nil)
	if err != nil || k == nil || k.ID != parent.ID || k.RPM != 30 {
		t.Fatalf("use: %+v %v", k, err)
	}
	// Replayed from another network: refused.
	if k, err := e.use("198.51.100.7", tr.AccessToken, nil); err == nil {
		t.Fatalf("replay from another network accepted: %+v", k)
	}
	if k, err := e.use("::1", tr.AccessToken, nil); err == nil {
		t.Fatalf("replay from another family accepted: %+v", k)
	}
	// Suspending the parent stops the token at once; resuming restores it.
	keys.SetStatus(ctx, e.st, parent.ID, keys.StatusSuspended, "test", "test", e.now)
	if _, err := e.use("127.0.0.1", tr.AccessToken, nil); err == nil {
		t.Fatal("token of a suspended key accepted")
	}
	keys.SetStatus(ctx, e.st, parent.ID, keys.StatusActive, "", "test", e.now)
	if _, err := e.use("127.0.0.1", tr.AccessToken, nil); err != nil {
		t.Fatal(err)
	}
	keys.SetStatus(ctx, e.st, parent.ID, keys.StatusRevoked, "test", "test", e.now)
	if _, err := e.use("127.0.0.1", tr.AccessToken, nil); err == nil {
		t.Fatal("token of a revoked key accepted")
	}
	if code, _, _ := e.exchange("127.0.0.1", "", map[string]string{"Authorization": "Bearer " + secret}); code != 401 {
		t.Fatalf("revoked key got a token: %d", code)
	}

	// Expiry.
	_, secret2 := e.st.create(t, keys.Spec{Name: "app2"})
	code, tr, _ = e.exchange("127.0.0.1", `{"expires_in": 60}`, map[string]string{"Api-Key": secret2})
	if code != 200 || tr.ExpiresIn != 60 {
		t.Fatalf("short token: %d %+v", code, tr)
	}
	e.now = e.now.Add(59 * time.Second)
	if _, err := e.use("127.0.0.1", tr.AccessToken, nil); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(10 * time.Second)
	if _, err := e.use("127.0.0.1", tr.AccessToken, nil); err == nil {
		t.Fatal("expired token accepted")
	}
	e.now = time.Now()

	// Refusals at the endpoint.
	canary, canarySecret := e.st.create(t, keys.Spec{Name: "decoy", Kind: keys.KindCanary})
	_, fenced := e.st.create(t, keys.Spec{Name: "office", CIDRs: []string{"10.0.0.0/8"}})
	if code, tr, _ = e.exchange("127.0.0.1", "", map[string]string{"Authorization": "Bearer " + secret2}); code != 200 || tr.AccessToken == "" {
		t.Fatalf("exchange with a good key: %d %+v", code, tr)
	}
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		body string
		want int
	}{
		{"no credential", nil, "", 401},
		{"unknown key", map[string]string{"Authorization": "Bearer wdn_000000000000000000000000000000000000"}, "", 401},
		{"canary", map[string]string{"Authorization": "Bearer " + canarySecret}, "", 401},
		{"key not for this network", map[string]string{"Authorization": "Bearer " + fenced}, "", 403},
		{"token for token", map[string]string{"Authorization": "Bearer " + tr.AccessToken}, "", 400},
		{"two credentials", map[string]string{"Authorization": "Bearer " + secret2, "Api-Key": fenced}, "", 401},
		{"bad body", map[string]string{"Authorization": "Bearer " + secret2}, `{"scope": "all"}`, 400},
		{"bad DPoP", map[string]string{"Authorization": "Bearer " + secret2, "DPoP": "x.y.z"}, "", 400},
	} {
		if code, _, bad := e.exchange("127.0.0.1", tc.body, tc.hdr); code != tc.want || bad["error"] == "" {
			t.Errorf("%s: %d %v, want %d", tc.name, code, bad, tc.want)
		}
	}
	var sawCanary bool
	for _, ev := range e.events {
		if ev.KeyID == canary.ID && ev.Status == 401 && ev.Endpoint == "warden.token" {
			sawCanary = true
		}
	}
	if !sawCanary {
		t.Error("no event for the canary at the token endpoint")
	}

	// A token signed by another server is refused.
	other := newTokenEnv(t, config.Tokens{}, config.Identity{})
	_, s3 := other.st.create(t, keys.Spec{Name: "x"})
	_, tr3, _ := other.exchange("127.0.0.1", "", map[string]string{"Authorization": "Bearer " + s3})
	if _, err := e.use("127.0.0.1", tr3.AccessToken, nil); err == nil {
		t.Fatal("foreign token accepted")
	}
	// Tampered claims are refused.
	if _, err := e.use("198.51.100.7", retarget(tr.AccessToken, "198.51.100.7/32"), nil); err == nil {
		t.Fatal("tampered token accepted")
	}
}

func retarget(tok, net string) string {
	parts := strings.Split(strings.TrimPrefix(tok, TokenPrefix), ".")
	body, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	json.Unmarshal(body, &m)
	m["net"] = net
	body, _ = json.Marshal(m)
	parts[1] = base64.RawURLEncoding.EncodeToString(body)
	return TokenPrefix + strings.Join(parts, ".")
}

func TestTokenNetworkPrefix(t *testing.T) {
	e := newTokenEnv(t, config.Tokens{BindIPv4Bits: 24, BindIPv6Bits: 48}, config.Identity{})
	_, secret := e.st.create(t, keys.Spec{Name: "app"})
	for _, tc := range []struct{ from, at string }{{"192.0.2.10", "192.0.2.200"}, {"2001:db8:1:2::1", "2001:db8:1:ffff::9"}} {
		code, tr, _ := e.exchange(tc.from, "", map[string]string{"Authorization": "Bearer " + secret})
		if code != 200 {
			t.Fatal(code)
		}
		if _, err := e.use(tc.at, tr.AccessToken, nil); err != nil {
			t.Errorf("same prefix %s→%s refused: %v", tc.from, tc.at, err)
		}
	}
	code, tr, _ := e.exchange("192.0.2.10", "", map[string]string{"Authorization": "Bearer " + secret})
	if _, err := e.use("192.0.3.10", tr.AccessToken, nil); code != 200 || err == nil {
		t.Fatal("other /24 accepted")
	}
}

func TestTokenDPoP(t *testing.T) {
	e := newTokenEnv(t, config.Tokens{RequireDPoP: true}, config.Identity{})
	_, secret := e.st.create(t, keys.Spec{Name: "app"})
	dk := identitytest.NewDPoPKey(t)
	tokURL := "http://warden.test" + TokenPath
	apiURL := "http://warden.test/v1/chat/completions"
	auth := map[string]string{"Authorization": "Bearer " + secret}
	if code, _, bad := e.exchange("127.0.0.1", "", auth); code != 400 || bad["error"] != "invalid_dpop_proof" {
		t.Fatalf("no proof under require_dpop: %d %v", code, bad)
	}
	code, tr, bad := e.exchange("127.0.0.1", "", map[string]string{"Authorization": "Bearer " + secret, "DPoP": dk.Proof(t, "POST", tokURL, "", e.now)})
	if code != 200 || tr.TokenType != "DPoP" {
		t.Fatalf("exchange: %d %+v %v", code, tr, bad)
	}
	tok := tr.AccessToken
	good := dk.Proof(t, "POST", apiURL, tok, e.now)
	if _, err := e.use("127.0.0.1", tok, map[string]string{"Authorization": "DPoP " + tok, "DPoP": good}); err != nil {
		t.Fatal(err)
	}
	other := identitytest.NewDPoPKey(t)
	for _, tc := range []struct {
		name string
		hdr  map[string]string
	}{
		{"replayed proof", map[string]string{"Authorization": "DPoP " + tok, "DPoP": good}},
		{"as bearer", map[string]string{"Authorization": "Bearer " + tok}},
		{"no proof", map[string]string{"Authorization": "DPoP " + tok}},
		{"other key", map[string]string{"Authorization": "DPoP " + tok, "DPoP": other.Proof(t, "POST", apiURL, tok, e.now)}},
		{"no ath", map[string]string{"Authorization": "DPoP " + tok, "DPoP": dk.Proof(t, "POST", apiURL, "", e.now)}},
		{"other token's ath", map[string]string{"Authorization": "DPoP " + tok, "DPoP": dk.Proof(t, "POST", apiURL, "wdt_x", e.now)}},
		{"wrong method", map[string]string{"Authorization": "DPoP " + tok, "DPoP": dk.Proof(t, "GET", apiURL, tok, e.now)}},
		{"wrong url", map[string]string{"Authorization": "DPoP " + tok, "DPoP": dk.Proof(t, "POST", "http://warden.test/v1/embeddings", tok, e.now)}},
		{"old proof", map[string]string{"Authorization": "DPoP " + tok, "DPoP": dk.Proof(t, "POST", apiURL, tok, e.now.Add(-2*time.Minute))}},
		{"future proof", map[string]string{"Authorization": "DPoP " + tok, "DPoP": dk.Proof(t, "POST", apiURL, tok, e.now.Add(time.Minute))}},
	} {
		if k, err := e.use("127.0.0.1", tok, tc.hdr); err == nil {
			t.Errorf("%s: accepted %+v", tc.name, k)
		}
	}
	// A fresh proof with the default port spelled out is the same target.
	if _, err := e.use("127.0.0.1", tok, map[string]string{"Authorization": "DPoP " + tok, "DPoP": dk.Proof(t, "POST", "HTTP://Warden.test:80/v1/chat/completions?x=1", tok, e.now)}); err != nil {
		t.Fatal(err)
	}
	// An unbound token in the DPoP scheme is refused.
	e2 := newTokenEnv(t, config.Tokens{}, config.Identity{})
	_, s2 := e2.st.create(t, keys.Spec{Name: "b"})
	_, tr2, _ := e2.exchange("127.0.0.1", "", map[string]string{"Authorization": "Bearer " + s2})
	if _, err := e2.use("127.0.0.1", tr2.AccessToken, map[string]string{"Authorization": "DPoP " + tr2.AccessToken, "DPoP": dk.Proof(t, "POST", apiURL, tr2.AccessToken, e2.now)}); err == nil {
		t.Fatal("unbound token in DPoP scheme accepted")
	}
}

func TestTokenFromOIDC(t *testing.T) {
	is := identitytest.NewIssuer(t)
	e := newTokenEnv(t, config.Tokens{}, oidcConfig(is, ""))
	code, tr, bad := e.exchange("127.0.0.1", "", map[string]string{"Authorization": "Bearer " + is.Sign(t, "ec-1", nil)})
	if code != 200 {
		t.Fatalf("%d %v", code, bad)
	}
	k, err := e.use("127.0.0.1", tr.AccessToken, nil)
	if err != nil || k.ID != "oidc:ci#repo:acme/app:ref:refs/heads/main" || k.RPM != 10 {
		t.Fatalf("%+v %v", k, err)
	}
	if code, _, _ := e.exchange("127.0.0.1", "", map[string]string{"Authorization": "Bearer " + is.Sign(t, "ec-1", map[string]any{"aud": "x"})}); code != 401 {
		t.Fatalf("bad JWT got a token: %d", code)
	}
}
