// Package console serves Warden's security console: a single-page web
// application under /console/ on the admin listener, embedded in the binary
// (no CDN, no separate server; it works with no internet).
//
// An operator signs in with the admin token. The console then holds a
// server-side session, and the browser holds only a random session id in a
// cookie (HttpOnly, SameSite=Strict, Secure when served over TLS, path
// /console/). The token never reaches the page's scripts after sign-in.
//
// The page calls the admin API through this package, under the session
// instead of the bearer token:
//
//	POST   /console/session          {"token": "..."}  sign in; sets the cookie, answers {"csrf": "..."}
//	GET    /console/session          {"csrf": "...", "expires": ...} for a valid session, else 401
//	DELETE /console/session          sign out (needs the CSRF header)
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
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/netip"
	"path"
	"strings"
	"sync"
	"time"
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
	failLimit    = 10 // failed sign-ins per address per failWindow
	failWindow   = time.Minute
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

	once   sync.Once
	assets fs.FS
	built  bool

	mu       sync.Mutex
	sessions map[string]*session // by SHA-256 of the session id
	fails    map[netip.Addr]*failures
}

type session struct {
	csrf    string
	created time.Time
	used    time.Time
}

type failures struct {
	n     int
	since time.Time
}

func (h *Handler) init() {
	h.once.Do(func() {
		sub, _ := fs.Sub(dist, "dist")
		h.assets = sub
		_, err := fs.Stat(sub, "index.html")
		h.built = err == nil
		h.sessions = map[string]*session{}
		h.fails = map[netip.Addr]*failures{}
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

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"message": msg, "code": code}})
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics on the impossible)
	return base64.RawURLEncoding.EncodeToString(b)
}

func sessionKey(id string) string {
	s := sha256.Sum256([]byte(id))
	return string(s[:])
}

// lookup returns the live session of the request's cookie, touching it.
func (h *Handler) lookup(r *http.Request) (*session, string) {
	c, err := r.Cookie(cookieName)
	if err != nil || len(c.Value) > 100 {
		return nil, ""
	}
	k := sessionKey(c.Value)
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sessions[k]
	if s == nil {
		return nil, ""
	}
	if now.Sub(s.created) > h.TTL || now.Sub(s.used) > h.Idle {
		delete(h.sessions, k)
		return nil, ""
	}
	s.used = now
	return s, k
}

func csrfOK(s *session, r *http.Request) bool {
	got := r.Header.Get(csrfHeader)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}

func clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// tooManyFailuresLocked reports whether addr failed to sign in too often.
func (h *Handler) tooManyFailuresLocked(addr netip.Addr, now time.Time) bool {
	f := h.fails[addr]
	return f != nil && now.Sub(f.since) < failWindow && f.n >= failLimit
}

func (h *Handler) failLocked(addr netip.Addr, now time.Time) {
	f := h.fails[addr]
	if f == nil || now.Sub(f.since) >= failWindow {
		if f == nil && len(h.fails) >= maxFailIPs {
			for a, g := range h.fails {
				if now.Sub(g.since) >= failWindow {
					delete(h.fails, a)
				}
			}
			if len(h.fails) >= maxFailIPs {
				clear(h.fails)
			}
		}
		f = &failures{since: now}
		h.fails[addr] = f
	}
	f.n++
}

func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: value, Path: Prefix, MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}

func (h *Handler) session(w http.ResponseWriter, r *http.Request) {
	if crossSite(r) {
		writeError(w, http.StatusForbidden, "cross_site", "cross-site request refused")
		return
	}
	switch r.Method {
	case http.MethodGet:
		s, _ := h.lookup(r)
		if s == nil {
			writeError(w, http.StatusUnauthorized, "unauthorized", "not signed in")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"csrf": s.csrf, "expires": s.created.Add(h.TTL).UTC()})
	case http.MethodPost:
		h.signIn(w, r)
	case http.MethodDelete:
		s, k := h.lookup(r)
		if s == nil || !csrfOK(s, r) {
			writeError(w, http.StatusForbidden, "csrf", "missing or wrong CSRF token")
			return
		}
		h.mu.Lock()
		delete(h.sessions, k)
		h.mu.Unlock()
		h.setCookie(w, r, "", -1)
		writeJSON(w, http.StatusOK, map[string]any{"signed_out": true})
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		writeError(w, http.StatusMethodNotAllowed, "method", "method not allowed")
	}
}

func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "invalid", "sign-in needs a JSON body")
		return
	}
	var body struct {
		Token string `json:"token"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxLoginBody))
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "sign-in body must be {\"token\": \"...\"}")
		return
	}
	addr, now := clientAddr(r), h.now()
	h.mu.Lock()
	limited := h.tooManyFailuresLocked(addr, now)
	h.mu.Unlock()
	if limited {
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusTooManyRequests, "rate_limited", "too many failed sign-ins; wait a minute")
		return
	}
	want := sha256.Sum256([]byte(h.Token))
	got := sha256.Sum256([]byte(strings.TrimSpace(body.Token)))
	if h.Token == "" || subtle.ConstantTimeCompare(want[:], got[:]) != 1 {
		h.mu.Lock()
		h.failLocked(addr, now)
		h.mu.Unlock()
		writeError(w, http.StatusUnauthorized, "unauthorized", "wrong admin token")
		return
	}
	id := randomToken()
	s := &session{csrf: randomToken(), created: now, used: now}
	h.mu.Lock()
	if len(h.sessions) >= maxSessions {
		// Drop expired sessions, then the oldest.
		var oldest string
		for k, v := range h.sessions {
			if now.Sub(v.created) > h.TTL || now.Sub(v.used) > h.Idle {
				delete(h.sessions, k)
			} else if oldest == "" || v.created.Before(h.sessions[oldest].created) {
				oldest = k
			}
		}
		if len(h.sessions) >= maxSessions {
			delete(h.sessions, oldest)
		}
	}
	h.sessions[sessionKey(id)] = s
	h.mu.Unlock()
	h.setCookie(w, r, id, int(h.TTL/time.Second))
	writeJSON(w, http.StatusOK, map[string]any{"csrf": s.csrf, "expires": now.Add(h.TTL).UTC()})
}

// api forwards /console/api/v1/... to the admin API's /admin/v1/... with
// the admin token, for a signed-in session.
func (h *Handler) api(w http.ResponseWriter, r *http.Request) {
	s, _ := h.lookup(r)
	if s == nil {
		writeError(w, http.StatusUnauthorized, "unauthorized", "not signed in")
		return
	}
	safe := r.Method == http.MethodGet || r.Method == http.MethodHead
	if crossSite(r) || (!safe && !csrfOK(s, r)) {
		writeError(w, http.StatusForbidden, "csrf", "missing or wrong CSRF token")
		return
	}
	if h.Admin == nil {
		writeError(w, http.StatusNotFound, "not_found", "no admin API")
		return
	}
	r2 := r.Clone(r.Context())
	rest := strings.TrimPrefix(r.URL.Path, Prefix+"api/v1/")
	r2.URL.Path = "/admin/v1/" + rest
	r2.URL.RawPath = ""
	r2.RequestURI = r2.URL.RequestURI()
	r2.Header.Del("Cookie")
	r2.Header.Del(csrfHeader)
	r2.Header.Set("Authorization", "Bearer "+h.Token)
	h.Admin.ServeHTTP(w, r2)
}

// static serves the built application; paths with no file get index.html
// so that the application's own routes survive a reload.
func (h *Handler) static(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method", "method not allowed")
		return
	}
	if strings.Contains(r.URL.Path, "..") {
		writeError(w, http.StatusBadRequest, "invalid", "invalid path")
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
