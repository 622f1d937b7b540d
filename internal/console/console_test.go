package console

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/admin"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store/sqlite"
	"github.com/wardenhq/warden/internal/store/sqlite/sqlitetest"
)

const token = "wadm_test-token"

// newConsole returns a console in front of a real admin API on SQLite,
// with a clock the test moves, and a key to act on.
func newConsole(t testing.TB) (*Handler, *time.Time, string) {
	t.Helper()
	db, k := keyedStore(t)
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	api := (&admin.Server{Store: db, Token: token}).Handler()
	return &Handler{Token: token, Admin: api, Now: func() time.Time { return now }}, &now, k.ID
}

// keyedStore opens a SQLite store that holds one key, billing-bot.
func keyedStore(t testing.TB) (*sqlite.DB, *keys.Key) {
	t.Helper()
	db := sqlitetest.Open(t)
	k, _, err := keys.Create(context.Background(), db, keys.Spec{Name: "billing-bot"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return db, k
}

type req struct {
	method, path, body string
	header             map[string]string
	cookie             *http.Cookie
	tls                bool
}

func do(h http.Handler, r req) *httptest.ResponseRecorder {
	hr := httptest.NewRequest(r.method, "http://127.0.0.1:8081"+r.path, strings.NewReader(r.body))
	hr.RemoteAddr = "127.0.0.1:5555"
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	if r.cookie != nil {
		hr.AddCookie(r.cookie)
	}
	if r.tls {
		hr.TLS = &tls.ConnectionState{}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, hr)
	return w
}

var jsonCT = map[string]string{"Content-Type": "application/json"}

// signIn signs in and returns the session cookie and CSRF token.
func signIn(t *testing.T, h http.Handler) (*http.Cookie, string) {
	t.Helper()
	w := do(h, req{method: "POST", path: "/console/session", body: `{"token":"` + token + `"}`, header: jsonCT})
	if w.Code != 200 {
		t.Fatalf("sign-in: %d %s", w.Code, w.Body)
	}
	var body struct{ CSRF string }
	json.Unmarshal(w.Body.Bytes(), &body)
	cs := w.Result().Cookies()
	if len(cs) != 1 || body.CSRF == "" {
		t.Fatalf("sign-in gave cookies %v, csrf %q", cs, body.CSRF)
	}
	return cs[0], body.CSRF
}

func TestSignIn(t *testing.T) {
	h, _, _ := newConsole(t)
	for _, tc := range []struct {
		name   string
		body   string
		header map[string]string
		want   int
	}{
		{"wrong token", `{"token":"wadm_wrong"}`, jsonCT, 401},
		{"empty token", `{"token":""}`, jsonCT, 401},
		{"form body", `token=` + token, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415},
		{"not JSON", `{"token":`, jsonCT, 400},
		{"huge body", `{"token":"` + strings.Repeat("a", 10000) + `"}`, jsonCT, 400},
		{"cross-site", `{"token":"` + token + `"}`, map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"}, 403},
		{"right token", `{"token":"` + token + `"}`, jsonCT, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := do(h, req{method: "POST", path: "/console/session", body: tc.body, header: tc.header})
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.want != 200 && len(w.Result().Cookies()) != 0 {
				t.Error("a failed sign-in set a cookie")
			}
			if strings.Contains(w.Body.String(), token) {
				t.Error("the answer contains the token")
			}
		})
	}
}

func TestCookieAttributes(t *testing.T) {
	h, _, _ := newConsole(t)
	for _, tc := range []struct {
		tls, secure bool
	}{{false, false}, {true, true}} {
		w := do(h, req{method: "POST", path: "/console/session", body: `{"token":"` + token + `"}`, header: jsonCT, tls: tc.tls})
		c := w.Result().Cookies()[0]
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/console/" || c.Secure != tc.secure {
			t.Errorf("tls %v: cookie %+v", tc.tls, c)
		}
		if strings.Contains(c.Value, token) || len(c.Value) < 40 {
			t.Errorf("cookie value %q is not a random session id", c.Value)
		}
	}
}

func TestAPIUnderSession(t *testing.T) {
	h, _, keyID := newConsole(t)
	cookie, csrf := signIn(t, h)
	suspend := "/console/api/v1/keys/" + keyID + "/suspend"
	for _, tc := range []struct {
		name string
		r    req
		want int
	}{
		{"no session", req{method: "GET", path: "/console/api/v1/keys"}, 401},
		{"forged cookie", req{method: "GET", path: "/console/api/v1/keys", cookie: &http.Cookie{Name: cookieName, Value: "x"}}, 401},
		{"bearer token is not a session", req{method: "GET", path: "/console/api/v1/keys", header: map[string]string{"Authorization": "Bearer " + token}}, 401},
		{"read", req{method: "GET", path: "/console/api/v1/keys", cookie: cookie}, 200},
		{"unknown endpoint", req{method: "GET", path: "/console/api/v1/nope", cookie: cookie}, 404},
		{"write without CSRF", req{method: "POST", path: suspend, body: `{}`, cookie: cookie}, 403},
		{"write with wrong CSRF", req{method: "POST", path: suspend, body: `{}`, cookie: cookie, header: map[string]string{csrfHeader: csrf + "x"}}, 403},
		{"cross-site read", req{method: "GET", path: "/console/api/v1/keys", cookie: cookie, header: map[string]string{"Sec-Fetch-Site": "cross-site"}}, 403},
		{"cross-origin write", req{method: "POST", path: suspend, body: `{}`, cookie: cookie, header: map[string]string{csrfHeader: csrf, "Origin": "http://127.0.0.1:9999"}}, 403},
		{"write with CSRF", req{method: "POST", path: suspend, body: `{"reason":"test","by":"console"}`, cookie: cookie, header: map[string]string{csrfHeader: csrf, "Origin": "http://127.0.0.1:8081"}}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := do(h, tc.r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
		})
	}
	w := do(h, req{method: "GET", path: "/console/api/v1/keys/" + keyID, cookie: cookie})
	var k keys.Key
	json.Unmarshal(w.Body.Bytes(), &k)
	if k.Status != keys.StatusSuspended || k.StatusBy != "console" {
		t.Errorf("after the allowed write: status %q by %q", k.Status, k.StatusBy)
	}
}

func TestSessionLifetime(t *testing.T) {
	h, now, _ := newConsole(t)
	get := func(c *http.Cookie) int {
		return do(h, req{method: "GET", path: "/console/session", cookie: c}).Code
	}
	c, _ := signIn(t, h)
	*now = now.Add(50 * time.Minute)
	if st := get(c); st != 200 {
		t.Fatalf("50 minutes idle: %d", st)
	}
	*now = now.Add(61 * time.Minute)
	if st := get(c); st != 401 {
		t.Fatalf("61 minutes idle: %d, want 401", st)
	}

	c, _ = signIn(t, h)
	for range 9 { // used every 55 minutes, but 8 hours is the limit
		*now = now.Add(55 * time.Minute)
		get(c)
	}
	if st := get(c); st != 401 {
		t.Fatalf("after 8h15m: %d, want 401", st)
	}
}

func TestSignOut(t *testing.T) {
	h, _, _ := newConsole(t)
	c, csrf := signIn(t, h)
	if w := do(h, req{method: "DELETE", path: "/console/session", cookie: c}); w.Code != 403 {
		t.Fatalf("sign-out without CSRF: %d", w.Code)
	}
	if w := do(h, req{method: "DELETE", path: "/console/session", cookie: c, header: map[string]string{csrfHeader: csrf}}); w.Code != 200 {
		t.Fatalf("sign-out: %d", w.Code)
	}
	if w := do(h, req{method: "GET", path: "/console/api/v1/keys", cookie: c}); w.Code != 401 {
		t.Fatalf("after sign-out: %d", w.Code)
	}
}

// Failed sign-ins slow the source down but never refuse the right token
// (issue 15.5: the old lockout answered 429 to the right token for a minute,
// so anyone could lock the operators out).
func TestFailedSignInsSlowButNeverRefuseTheRightToken(t *testing.T) {
	h, _, _ := newConsole(t)
	var waited []time.Duration
	h.Wait = func(_ context.Context, d time.Duration) error { waited = append(waited, d); return nil }
	const fails = 12
	for i := range fails {
		w := do(h, req{method: "POST", path: "/console/session", body: `{"token":"bad"}`, header: jsonCT})
		if w.Code != 401 {
			t.Fatalf("attempt %d: %d", i, w.Code)
		}
	}
	w := do(h, req{method: "POST", path: "/console/session", body: `{"token":"` + token + `"}`, header: jsonCT})
	if w.Code != 200 {
		t.Fatalf("right token after %d failures: %d, want 200", fails, w.Code)
	}
	// The delays grow with the failures and stay bounded.
	if len(waited) != fails-freeFailures {
		t.Fatalf("waited %d times: %v", len(waited), waited)
	}
	for i := 1; i < len(waited); i++ {
		if waited[i] < waited[i-1] || waited[i] > maxDelay {
			t.Fatalf("delays not growing within %v: %v", maxDelay, waited)
		}
	}
	if last := waited[len(waited)-1]; last != maxDelay {
		t.Fatalf("after %d failures the delay is %v, want the cap %v", fails, last, maxDelay)
	}
	// Success forgets the failures: the next attempt waits nothing.
	n := len(waited)
	do(h, req{method: "POST", path: "/console/session", body: `{"token":"bad"}`, header: jsonCT})
	if len(waited) != n {
		t.Fatalf("after a success the source still waits: %v", waited[n:])
	}
}

func TestSessionsAreBounded(t *testing.T) {
	h, now, _ := newConsole(t)
	first, _ := signIn(t, h)
	for range maxSessions {
		*now = now.Add(time.Millisecond)
		signIn(t, h)
	}
	h.mu.Lock()
	n := len(h.sessions)
	h.mu.Unlock()
	if n > maxSessions {
		t.Fatalf("%d sessions kept, cap %d", n, maxSessions)
	}
	if w := do(h, req{method: "GET", path: "/console/session", cookie: first}); w.Code != 401 {
		t.Errorf("the oldest session survived the cap: %d", w.Code)
	}
}

func TestStaticPages(t *testing.T) {
	h, _, _ := newConsole(t)
	if w := do(h, req{method: "GET", path: "/console/../../etc/passwd"}); w.Code != 400 || strings.Contains(w.Body.String(), "root:") {
		t.Errorf("dot-dot path: %d %.100s", w.Code, w.Body)
	}
	for _, p := range []string{"/console/", "/console/keys/whatever"} {
		w := do(h, req{method: "GET", path: p})
		if w.Code != 200 {
			t.Fatalf("%s: %d", p, w.Code)
		}
		if !strings.Contains(w.Header().Get("Content-Type"), "text/html") {
			t.Errorf("%s: content type %q", p, w.Header().Get("Content-Type"))
		}
		csp := w.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", p, csp)
		}
		if !strings.Contains(w.Body.String(), "Warden console") {
			t.Errorf("%s: body %.200s", p, w.Body)
		}
	}
	if w := do(h, req{method: "POST", path: "/console/"}); w.Code != 405 {
		t.Errorf("POST to a page: %d", w.Code)
	}
	if w := do(h, req{method: "GET", path: "/console"}); w.Code != 301 {
		t.Errorf("/console: %d", w.Code)
	}
}

// Behind a trusted proxy, failures count against the client the proxy
// names, so an attacker's failures do not slow an operator behind the same
// load balancer; IPv6 clients count by /64.
func TestSignInBackoffPerSource(t *testing.T) {
	h, _, _ := newConsole(t)
	h.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	var waited []time.Duration
	h.Wait = func(_ context.Context, d time.Duration) error { waited = append(waited, d); return nil }
	attempt := func(xff, tok string) int {
		return do(h, req{method: "POST", path: "/console/session", body: `{"token":"` + tok + `"}`,
			header: map[string]string{"Content-Type": "application/json", "X-Forwarded-For": xff}}).Code
	}
	for range 8 {
		attempt("198.51.100.7", "bad")
	}
	n := len(waited)
	if n == 0 {
		t.Fatal("the attacker was never slowed")
	}
	if code := attempt("203.0.113.5", token); code != 200 || len(waited) != n {
		t.Fatalf("operator behind the same proxy: %d, waited %v", code, waited[n:])
	}
	for range 8 {
		attempt("2001:db8::1", "bad")
	}
	n = len(waited)
	attempt("2001:db8::2", "bad") // same /64
	if len(waited) != n+1 {
		t.Fatal("another address of the same IPv6 /64 is not slowed")
	}
}
