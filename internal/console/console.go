// Package console serves Warden's security console: a single-page web
// application under /console/ on the admin listener, embedded in the binary
// (no CDN, no separate server; it works with no internet).
//
// A person signs in with the company's identity provider (OpenID Connect,
// see oidc.go) and acts with the role their groups map to; the shared admin
// token still signs in, with the service role. The console then holds a
// server-side session naming the principal, and the browser holds only a
// random session id in a cookie (HttpOnly, SameSite=Strict, Secure when
// the browser reached Warden over TLS, directly or through a trusted proxy
// that says so in X-Forwarded-Proto; path /console/). The admin API hears
// the session's principal, so it authorises by role and the audit log
// names the person.
//
// The page calls the admin API through this package, under the session
// instead of the bearer token:
//
//	POST   /console/session          {"token": "..."}  sign in; sets the cookie, answers {"csrf": "..."}
//	GET    /console/session          {"csrf": "...", "expires": ...} for a valid session, else 401
//	DELETE /console/session          sign out (needs the CSRF header)
//	GET    /console/auth             {"sso": true|false, "cli": {issuer, client_id, scopes} or null}: single sign-on, and the device-flow client of `warden login`
//	GET    /console/oidc/login       starts single sign-on (redirects to the identity provider)
//	GET    /console/oidc/callback    where the identity provider sends the browser back
//	ANY    /console/api/v1/...       the admin API's /admin/v1/... (GET, HEAD without CSRF; every other method
//	                                 needs X-CSRF-Token equal to the session's token)
//	GET    /console/...              the application's files (dist/), index.html for anything else
//
// CSRF defence is layered: SameSite=Strict cookies, a per-session token that
// state-changing requests must echo in a header (which a cross-site form
// cannot set), and refusal of requests whose Origin or Sec-Fetch-Site names
// another site. Sign-in needs a JSON body, which a cross-site form cannot
// send without a CORS preflight that Warden never grants.
//
// The front-end source is web/console; its build (web/console/build.sh)
// writes dist/ here, and go:embed bundles it. The built bundle is committed,
// so a fresh clone serves the real console with no Node installed;
// bundle_test.go fails when dist/ was not rebuilt after a source change
// (dist/SOURCES holds the digest of the sources it was built from). Without
// dist/, the console answers with a page saying how to build it.
package console

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"net/netip"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/admin/wire"
	"github.com/wardenhq/warden/internal/authn"
)

//go:embed all:dist
var dist embed.FS

// Prefix is where the console is mounted on the admin listener.
const Prefix = "/console/"

const (
	cookieName   = "warden_console"
	csrfHeader   = "X-CSRF-Token"
	maxSessions  = 1000
	maxFailIPs   = 10000
	maxLoginBody = 4 << 10
)

// Handler is the console. Mount it at Prefix on the admin listener's mux.
type Handler struct {
	// Token is the admin token an operator signs in with. Empty disables
	// sign-in (the console then refuses every session).
	Token string
	// Admin is the admin API handler, authenticated by Token. The console
	// calls it in process with the token, for signed-in sessions only.
	Admin http.Handler
	// TTL is how long a session lasts from sign-in (default 8h); Idle how
	// long it lasts unused (default 1h).
	TTL, Idle time.Duration
	// Now returns the time; nil means time.Now.
	Now func() time.Time
	// ServiceRole is the role of a session signed in with Token (None
	// means admin).
	ServiceRole authn.Role
	// SSO, when set, signs people in with the company's identity provider
	// (OpenID Connect); see oidc.go. nil offers only the admin token.
	SSO SSO
	// CLI, when set, is published at /console/auth for `warden login`
	// (the device flow with the identity provider).
	CLI *authn.CLILogin
	// TrustedProxies are the addresses whose X-Forwarded-Proto is believed
	// when deciding whether the browser reached Warden over HTTPS (the
	// session cookie is then Secure).
	TrustedProxies []netip.Prefix
	// Wait pauses a sign-in attempt for the backoff of its source; nil
	// waits on a timer (tests observe the delays instead).
	Wait func(ctx context.Context, d time.Duration) error

	once   sync.Once
	assets fs.FS
	built  bool

	mu       sync.Mutex
	sessions map[string]*session // by SHA-256 of the session id
	fails    map[netip.Addr]*failures
	logins   map[string]authn.Login // SSO sign-ins in progress, by state
	pending  int                    // sign-in attempts waiting out a backoff
}

func (h *Handler) init() {
	h.once.Do(func() {
		sub, _ := fs.Sub(dist, "dist")
		h.assets = sub
		_, err := fs.Stat(sub, "index.html")
		h.built = err == nil
		h.sessions = map[string]*session{}
		h.fails = map[netip.Addr]*failures{}
		h.logins = map[string]authn.Login{}
		if h.TTL <= 0 {
			h.TTL = 8 * time.Hour
		}
		if h.Idle <= 0 {
			h.Idle = time.Hour
		}
	})
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// ServeHTTP routes console requests.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.init()
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", "no-store")
	p := r.URL.Path
	switch {
	case p == Prefix+"session":
		h.session(w, r)
	case p == Prefix+"auth":
		wire.JSON(w, http.StatusOK, map[string]any{"sso": h.SSO != nil, "cli": h.CLI})
	case p == Prefix+"oidc/login":
		h.ssoStart(w, r)
	case p == Prefix+"oidc/callback":
		h.ssoCallback(w, r)
	case strings.HasPrefix(p, Prefix+"api/v1/"):
		h.api(w, r)
	case p == "/console":
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
	default:
		h.static(w, r)
	}
}

// crossSite reports whether the browser says the request comes from
// another site.
func crossSite(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return true
	}
	if o := r.Header.Get("Origin"); o != "" {
		host, ok := strings.CutPrefix(o, "http://")
		if !ok {
			host, ok = strings.CutPrefix(o, "https://")
		}
		return !ok || host != r.Host
	}
	return false
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics on the impossible)
	return base64.RawURLEncoding.EncodeToString(b)
}

// static serves the built application; paths with no file get index.html
// so that the application's own routes survive a reload.
func (h *Handler) static(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		wire.Error(w, http.StatusMethodNotAllowed, "method", "method not allowed")
		return
	}
	if strings.Contains(r.URL.Path, "..") {
		wire.Error(w, http.StatusBadRequest, "invalid", "invalid path")
		return
	}
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	if !h.built {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(fallbackPage))
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+strings.TrimPrefix(r.URL.Path, Prefix)), "/")
	if name == "" || name == "." {
		name = "index.html"
	}
	if st, err := fs.Stat(h.assets, name); err != nil || st.IsDir() {
		name = "index.html"
	}
	if name != "index.html" {
		// Built file names carry a content hash: cache them for good.
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	http.ServeFileFS(w, r, h.assets, name)
}

const fallbackPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Warden console</title></head>
<body><main><h1>Warden console</h1>
<p>This binary was built without the console. Build it with <code>web/console/build.sh</code>
(Node.js 20 and npm), then rebuild Warden.</p></main></body></html>
`
