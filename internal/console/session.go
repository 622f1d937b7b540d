package console

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/admin/wire"
	"github.com/wardenhq/warden/internal/authn"
	"github.com/wardenhq/warden/internal/clock"
)

// Backoff of failed sign-ins with the admin token. Failures slow a source
// down; they never refuse it: a source that has failed n times waits
// backoff(n) before its next attempt is judged, right or wrong, and its
// attempts are judged one at a time (so parallel guesses wait in line).
// The right token therefore always gets in, only later.
const (
	freeFailures = 3 // failures before any delay
	baseDelay    = 250 * time.Millisecond
	maxDelay     = 15 * time.Second // the longest one attempt waits
	failForget   = 15 * time.Minute // a source's failures are forgotten after this long without one
	maxPending   = 1024             // attempts waiting at once, over all sources (beyond: 503)
)

type session struct {
	csrf    string
	created time.Time
	used    time.Time
	who     authn.Principal
}

type failures struct {
	n    int
	last time.Time
	turn chan struct{} // one attempt of this source at a time
}

// backoff is how long a source with n recent failures waits.
func backoff(n int) time.Duration {
	if n <= freeFailures {
		return 0
	}
	d := baseDelay << min(n-freeFailures-1, 20)
	return min(d, maxDelay)
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

func (h *Handler) trusted(a netip.Addr) bool {
	for _, p := range h.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// source is whom failed sign-ins are counted against: the client address
// (behind trusted proxies, the rightmost X-Forwarded-For entry that is not
// one of them), IPv6 by its /64, which one host usually holds whole.
func (h *Handler) source(r *http.Request) netip.Addr {
	a := clientAddr(r)
	if h.trusted(a) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop := strings.Trim(strings.TrimSpace(hops[i]), "[]")
			x, err := netip.ParseAddr(hop)
			if err != nil {
				ap, err2 := netip.ParseAddrPort(strings.TrimSpace(hops[i]))
				if err2 != nil {
					break // an unusable entry: count against the proxy's address
				}
				x = ap.Addr()
			}
			x = x.Unmap()
			a = x
			if !h.trusted(x) {
				break
			}
		}
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// secure reports whether the browser reached the console over HTTPS:
// directly, or through a trusted proxy that says so.
func (h *Handler) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if h.trusted(clientAddr(r)) {
		proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
		return strings.EqualFold(strings.TrimSpace(proto), "https")
	}
	return false
}

func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: value, Path: Prefix, MaxAge: maxAge,
		HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteStrictMode,
	})
}

func sessionView(s *session, ttl time.Duration) map[string]any {
	return map[string]any{"csrf": s.csrf, "expires": s.created.Add(ttl).UTC(), "subject": s.who.Subject,
		"email": s.who.Email, "name": s.who.Name, "role": s.who.Role.String(), "method": s.who.Method}
}

func (h *Handler) session(w http.ResponseWriter, r *http.Request) {
	if crossSite(r) {
		wire.Error(w, http.StatusForbidden, "cross_site", "cross-site request refused")
		return
	}
	switch r.Method {
	case http.MethodGet:
		s, _ := h.lookup(r)
		if s == nil {
			wire.Error(w, http.StatusUnauthorized, "unauthorized", "not signed in")
			return
		}
		wire.JSON(w, http.StatusOK, sessionView(s, h.TTL))
	case http.MethodPost:
		h.signIn(w, r)
	case http.MethodDelete:
		s, k := h.lookup(r)
		if s == nil || !csrfOK(s, r) {
			wire.Error(w, http.StatusForbidden, "csrf", "missing or wrong CSRF token")
			return
		}
		h.mu.Lock()
		delete(h.sessions, k)
		h.mu.Unlock()
		h.setCookie(w, r, "", -1)
		wire.JSON(w, http.StatusOK, map[string]any{"signed_out": true})
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		wire.Error(w, http.StatusMethodNotAllowed, "method", "method not allowed")
	}
}

// turnLocked returns the failure record of addr (creating it), dropping
// forgotten ones when the table is full.
func (h *Handler) turnLocked(addr netip.Addr, now time.Time) *failures {
	f := h.fails[addr]
	if f != nil {
		if f.n > 0 && now.Sub(f.last) >= failForget {
			f.n = 0
		}
		return f
	}
	if len(h.fails) >= maxFailIPs {
		for a, g := range h.fails {
			if now.Sub(g.last) >= failForget && len(g.turn) == 0 {
				delete(h.fails, a)
			}
		}
	}
	f = &failures{turn: make(chan struct{}, 1)}
	if len(h.fails) < maxFailIPs {
		h.fails[addr] = f
	}
	return f
}

func (h *Handler) wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if h.Wait != nil {
		return h.Wait(ctx, d)
	}
	return clock.Sleep(ctx, d)
}

func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		wire.Error(w, http.StatusUnsupportedMediaType, "invalid", "sign-in needs a JSON body")
		return
	}
	var body struct {
		Token string `json:"token"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxLoginBody))
	if err := dec.Decode(&body); err != nil {
		wire.Error(w, http.StatusBadRequest, "invalid", "sign-in body must be {\"token\": \"...\"}")
		return
	}
	addr := h.source(r)
	h.mu.Lock()
	if h.pending >= maxPending {
		h.mu.Unlock()
		w.Header().Set("Retry-After", "5")
		wire.Error(w, http.StatusServiceUnavailable, "busy", "too many sign-ins at once; try again")
		return
	}
	h.pending++
	f := h.turnLocked(addr, h.now())
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.pending--
		h.mu.Unlock()
	}()
	// Wait for this source's turn, then out its backoff.
	select {
	case f.turn <- struct{}{}:
	case <-r.Context().Done():
		return
	}
	defer func() { <-f.turn }()
	h.mu.Lock()
	delay := backoff(f.n)
	h.mu.Unlock()
	if err := h.wait(r.Context(), delay); err != nil {
		return
	}
	now := h.now()
	want := sha256.Sum256([]byte(h.Token))
	got := sha256.Sum256([]byte(strings.TrimSpace(body.Token)))
	if h.Token == "" || subtle.ConstantTimeCompare(want[:], got[:]) != 1 {
		h.mu.Lock()
		f.n++
		f.last = now
		if next := backoff(f.n); next > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((next+time.Second-1)/time.Second)))
		}
		h.mu.Unlock()
		wire.Error(w, http.StatusUnauthorized, "unauthorized", "wrong admin token")
		return
	}
	h.mu.Lock()
	f.n = 0
	h.mu.Unlock()
	role := h.ServiceRole
	if role == authn.None {
		role = authn.Admin
	}
	h.startSession(w, r, authn.Principal{Subject: "service-token", Role: role, Method: "service-token"})
}

// startSession signs who in: a new session, its cookie, and the answer.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, who authn.Principal) *session {
	now := h.now()
	id := randomToken()
	s := &session{csrf: randomToken(), created: now, used: now, who: who}
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
	if r.Method == http.MethodPost {
		wire.JSON(w, http.StatusOK, sessionView(s, h.TTL))
	}
	return s
}

// api forwards /console/api/v1/... to the admin API's /admin/v1/... as the
// session's principal, for a signed-in session.
func (h *Handler) api(w http.ResponseWriter, r *http.Request) {
	s, _ := h.lookup(r)
	if s == nil {
		wire.Error(w, http.StatusUnauthorized, "unauthorized", "not signed in")
		return
	}
	safe := r.Method == http.MethodGet || r.Method == http.MethodHead
	if crossSite(r) || (!safe && !csrfOK(s, r)) {
		wire.Error(w, http.StatusForbidden, "csrf", "missing or wrong CSRF token")
		return
	}
	if h.Admin == nil {
		wire.Error(w, http.StatusNotFound, "not_found", "no admin API")
		return
	}
	r2 := r.Clone(authn.With(r.Context(), s.who))
	rest := strings.TrimPrefix(r.URL.Path, Prefix+"api/v1/")
	r2.URL.Path = "/admin/v1/" + rest
	r2.URL.RawPath = ""
	r2.RequestURI = r2.URL.RequestURI()
	r2.Header.Del("Cookie")
	r2.Header.Del(csrfHeader)
	r2.Header.Del("Authorization")
	h.Admin.ServeHTTP(w, r2)
}
