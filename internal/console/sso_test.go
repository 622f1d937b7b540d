package console

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/wardenhq/warden/internal/admin"
	"github.com/wardenhq/warden/internal/authn"
	"github.com/wardenhq/warden/internal/authn/authntest"
)

var (
	viewer    = authntest.Person{Subject: "u-vera", Email: "vera@example.com", Name: "Vera Viewer", Groups: []string{"helpdesk"}}
	responder = authntest.Person{Subject: "u-rick", Email: "rick@example.com", Name: "Rick Responder", Groups: []string{"secops"}}
	nobody    = authntest.Person{Subject: "u-nora", Email: "nora@example.com", Name: "Nora", Groups: []string{"sales"}}
)

type ssoRig struct {
	srv     *httptest.Server
	keyID   string
	mu      sync.Mutex
	actions []admin.Action
}

// newSSO runs the console with a real admin API on SQLite, signing people
// in through a local OIDC issuer (real HTTP, go-oidc on Warden's side).
func newSSO(t *testing.T) *ssoRig {
	t.Helper()
	is, err := authntest.Start("warden", "s3cret", viewer, responder, nobody)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { is.Close() })
	db, k := keyedStore(t)
	rig := &ssoRig{keyID: k.ID}
	h := &Handler{Token: token}
	rig.srv = httptest.NewServer(h)
	t.Cleanup(rig.srv.Close)
	cfg := &authn.Config{OIDC: authn.OIDCConfig{Issuer: is.URL, ClientID: "warden", ClientSecret: "s3cret",
		RedirectURL: rig.srv.URL + "/console/oidc/callback"},
		Roles: map[string][]string{"viewer": {"helpdesk"}, "responder": {"secops"}, "admin": {"platform"}}}
	p, err := authn.NewProvider(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.SSO = p
	h.Admin = (&admin.Server{Store: db, Token: token, OnAction: func(_ context.Context, a admin.Action) {
		rig.mu.Lock()
		rig.actions = append(rig.actions, a)
		rig.mu.Unlock()
	}}).Handler()
	return rig
}

// signInAs goes through the whole flow like a browser: the console sends
// it to the issuer, the person is picked, the issuer sends it back.
func (rig *ssoRig) signInAs(t *testing.T, p authntest.Person) (*http.Client, string, int) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	res, err := c.Get(rig.srv.URL + "/console/oidc/login")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	// The issuer's page posts its form back with the person chosen.
	authURL := res.Request.URL
	form := authURL.Query()
	form.Set("person", p.Subject)
	res, err = c.PostForm(authURL.Scheme+"://"+authURL.Host+"/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		return c, "", res.StatusCode
	}
	res, err = c.Get(rig.srv.URL + "/console/session")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var s struct{ CSRF, Email, Role string }
	json.NewDecoder(res.Body).Decode(&s)
	if s.Email != p.Email {
		t.Fatalf("session of %s names %q", p.Email, s.Email)
	}
	return c, s.CSRF, 200
}

func (rig *ssoRig) call(t *testing.T, c *http.Client, csrf, method, path, body string) int {
	t.Helper()
	r, _ := http.NewRequest(method, rig.srv.URL+"/console/api/v1/"+path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(csrfHeader, csrf)
	res, err := c.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func TestSingleSignOnRoles(t *testing.T) {
	rig := newSSO(t)
	vc, vcsrf, code := rig.signInAs(t, viewer)
	if code != 200 {
		t.Fatalf("viewer sign-in: %d", code)
	}
	if got := rig.call(t, vc, vcsrf, "GET", "keys/"+rig.keyID, ""); got != 200 {
		t.Fatalf("viewer reads a key: %d", got)
	}
	for _, a := range []string{"revoke", "suspend"} {
		if got := rig.call(t, vc, vcsrf, "POST", "keys/"+rig.keyID+"/"+a, `{"reason":"x"}`); got != 403 {
			t.Fatalf("viewer %s: %d, want 403", a, got)
		}
	}
	rc, rcsrf, _ := rig.signInAs(t, responder)
	if got := rig.call(t, rc, rcsrf, "POST", "keys/"+rig.keyID+"/suspend", `{"reason":"stolen","by":"someone-else"}`); got != 200 {
		t.Fatalf("responder suspends: %d", got)
	}
	if got := rig.call(t, rc, rcsrf, "POST", "keys/"+rig.keyID+"/revoke", `{}`); got != 403 {
		t.Fatalf("responder revokes: %d, want 403 (admin only)", got)
	}
	rig.mu.Lock()
	defer rig.mu.Unlock()
	var suspend *admin.Action
	for i, a := range rig.actions {
		if strings.HasSuffix(a.Path, "/suspend") && a.Status == 200 {
			suspend = &rig.actions[i]
		}
	}
	if suspend == nil || suspend.Principal.Email != responder.Email || suspend.Principal.Subject != responder.Subject ||
		suspend.Role != authn.Responder || suspend.KeyID != rig.keyID || suspend.Reason != "stolen" {
		t.Fatalf("suspension recorded as %+v", suspend)
	}
	refused := 0
	for _, a := range rig.actions {
		if a.Status == 403 {
			refused++
		}
	}
	if refused != 3 {
		t.Fatalf("%d refused actions recorded, want 3: %+v", refused, rig.actions)
	}
}

func TestSingleSignOnRefusals(t *testing.T) {
	rig := newSSO(t)
	if _, _, code := rig.signInAs(t, nobody); code != 403 {
		t.Fatalf("a person with no role: %d, want 403", code)
	}
	// A callback this browser did not start (login CSRF) is refused.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(rig.srv.URL + "/console/oidc/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := url.Parse(res.Header.Get("Location"))
	q := loc.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" {
		t.Fatalf("authorization request lacks PKCE or nonce: %s", loc)
	}
	state := url.QueryEscape(q.Get("state"))
	if got := getStatus(t, &http.Client{}, rig.srv.URL+"/console/oidc/callback?code=x&state="+state); got != 400 {
		t.Fatalf("callback without the browser's state cookie: %d, want 400", got)
	}
	// A made-up code with the right state fails at the token endpoint.
	if got := getStatus(t, c, rig.srv.URL+"/console/oidc/callback?code=forged&state="+state); got != 401 {
		t.Fatalf("forged code: %d, want 401", got)
	}
}

// getStatus GETs u with c and returns the status code.
func getStatus(t *testing.T, c *http.Client, u string) int {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// The session cookie is Secure over TLS and behind a trusted proxy that
// says the browser used HTTPS (issue 15.5: it was Secure only for direct TLS).
func TestCookieSecureBehindProxy(t *testing.T) {
	h, _, _ := newConsole(t)
	h.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	for _, c := range []struct {
		name   string
		proto  string
		remote string
		want   bool
	}{
		{"proxy says https", "https", "127.0.0.1:5555", true},
		{"proxy says http", "http", "127.0.0.1:5555", false},
		{"untrusted client says https", "https", "192.0.2.7:5555", false},
	} {
		hr := httptest.NewRequest("POST", "http://127.0.0.1:8081/console/session", strings.NewReader(`{"token":"`+token+`"}`))
		hr.RemoteAddr = c.remote
		hr.Header.Set("Content-Type", "application/json")
		hr.Header.Set("X-Forwarded-Proto", c.proto)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, hr)
		cs := w.Result().Cookies()
		if w.Code != 200 || len(cs) != 1 || cs[0].Secure != c.want {
			t.Errorf("%s: status %d, cookies %v, want Secure=%v", c.name, w.Code, cs, c.want)
		}
	}
}
