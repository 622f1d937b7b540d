package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/authn"
)

// Required is the role a request to the admin API needs. Reads need
// viewer, except evidence exports (responder); the responder's writes are
// listed; every other write needs admin, so a new endpoint is admin-only
// until it is listed here.
func Required(method, path string) authn.Role {
	rest, _ := strings.CutPrefix(path, "/admin/v1/")
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	read := method == http.MethodGet || method == http.MethodHead
	switch {
	case parts[0] == "debug":
		return authn.Admin // profiles of the running process
	case read && parts[0] == "audit" && len(parts) > 1 && parts[1] == "export":
		return authn.Responder // evidence bundles carry the prompts and answers
	case read:
		return authn.Viewer
	case method == http.MethodPost && len(parts) == 3 && parts[0] == "keys" &&
		(parts[2] == "suspend" || parts[2] == "resume" || parts[2] == "action"):
		return authn.Responder
	case method == http.MethodPost && len(parts) == 3 && parts[0] == "incidents" && parts[2] == "resolve":
		return authn.Responder
	case parts[0] == "audit" && len(parts) >= 2 && (parts[1] == "holds" || parts[1] == "checkpoint"):
		return authn.Responder // legal holds and a fresh checkpoint preserve evidence
	case method == http.MethodPost && path == "/admin/v1/audit/verify":
		return authn.Viewer // verification reads only
	}
	return authn.Admin
}

// Action is one write to the admin API, allowed or refused, with who sent
// it. OnAction hears every one (to put it in the audit log).
type Action struct {
	Time      time.Time
	Principal authn.Principal
	Role      authn.Role // the role they acted with
	Method    string
	Path      string
	KeyID     string // the key the action is about, when the path names one
	Status    int    // the API's answer
	Reason    string // the reason given, for status changes
}

// authenticate finds who sent r: a principal the console put in the
// context (a signed-in session), the shared admin token (a service
// principal with the service role), or an ID token the Bearer hook accepts.
func (s *Server) authenticate(r *http.Request, want [32]byte) (authn.Principal, bool) {
	if p, ok := authn.From(r.Context()); ok {
		return p, true
	}
	if s.Token == "" {
		return authn.Principal{Subject: s.by(), Role: authn.Admin, Method: "local"}, true
	}
	// Only the Authorization header carries a token: never a query
	// parameter or a cookie, which leak into logs and cross-site requests.
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || got == "" {
		return authn.Principal{}, false
	}
	g := sha256.Sum256([]byte(got))
	if subtle.ConstantTimeCompare(g[:], want[:]) == 1 {
		role := s.ServiceRole
		if role == authn.None {
			role = authn.Admin
		}
		return authn.Principal{Subject: "service-token", Role: role, Method: "service-token"}, true
	}
	if s.Bearer != nil && strings.Count(got, ".") == 2 {
		if p, err := s.Bearer(r.Context(), got); err == nil {
			return p, true
		}
	}
	return authn.Principal{}, false
}

// statusWriter remembers the status of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets the live event stream through.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// keyOf returns the key id an admin path names, if any.
func keyOf(path string) string {
	rest, ok := strings.CutPrefix(path, "/admin/v1/keys/")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	return id
}

func (s *Server) act(ctx context.Context, a Action) {
	if s.OnAction != nil {
		s.OnAction(ctx, a)
	}
}

// By is the name an action is recorded under: a signed-in person always
// acts as themselves (whatever the request body says); a service token or
// the local CLI may name the actor in the body (given), as tools such as
// the scanner do.
func By(r *http.Request, given string) string {
	if p, ok := authn.From(r.Context()); ok && p.Person() {
		return p.Who()
	}
	return given
}
