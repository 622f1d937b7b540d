package console

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/wardenhq/warden/internal/admin/wire"
	"github.com/wardenhq/warden/internal/authn"
)

// SSO is single sign-on with an identity provider; *authn.Provider is one.
type SSO interface {
	// Start returns the identity provider's URL to send the browser to and
	// what to remember for the callback.
	Start(now time.Time) (string, authn.Login)
	// Finish checks the callback's code against the remembered sign-in.
	Finish(ctx context.Context, l authn.Login, code string) (authn.Principal, error)
}

const (
	stateCookie = "warden_oidc"
	maxLogins   = 1000
	loginTTL    = 10 * time.Minute
)

// ssoStart remembers a new sign-in (state, nonce, PKCE verifier, kept on
// the server) and sends the browser to the identity provider. A cookie ties
// the sign-in to this browser, so a callback URL someone else started
// cannot sign this browser in (login CSRF). It is SameSite=Lax because the
// provider's redirect back is a cross-site top-level navigation.
func (h *Handler) ssoStart(w http.ResponseWriter, r *http.Request) {
	if h.SSO == nil {
		wire.Error(w, http.StatusNotFound, "not_found", "single sign-on is not configured")
		return
	}
	if r.Method != http.MethodGet {
		wire.Error(w, http.StatusMethodNotAllowed, "method", "method not allowed")
		return
	}
	now := h.now()
	u, l := h.SSO.Start(now)
	h.mu.Lock()
	if len(h.logins) >= maxLogins {
		for k, v := range h.logins {
			if now.Sub(v.Started) > loginTTL {
				delete(h.logins, k)
			}
		}
		if len(h.logins) >= maxLogins {
			clear(h.logins) // a flood of abandoned sign-ins: start over
		}
	}
	h.logins[l.State] = l
	h.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: l.State, Path: Prefix + "oidc/", MaxAge: int(loginTTL / time.Second),
		HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, u, http.StatusFound)
}

var failPage = template.Must(template.New("fail").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Warden console</title></head>
<body><main><h1>Sign-in failed</h1><p>{{.}}</p><p><a href="/console/">Back to the console</a></p></main></body></html>
`))

func (h *Handler) ssoFail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	failPage.Execute(w, msg)
}

// ssoCallback finishes a sign-in: the state must match the browser's
// cookie and a remembered sign-in (used once), the code is exchanged with
// the PKCE verifier, the ID token verified, and the person's role mapped.
func (h *Handler) ssoCallback(w http.ResponseWriter, r *http.Request) {
	if h.SSO == nil {
		wire.Error(w, http.StatusNotFound, "not_found", "single sign-on is not configured")
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		h.ssoFail(w, http.StatusUnauthorized, "The identity provider refused the sign-in: "+e)
		return
	}
	state := q.Get("state")
	c, err := r.Cookie(stateCookie)
	if err != nil || state == "" || c.Value != state {
		h.ssoFail(w, http.StatusBadRequest, "This sign-in was not started in this browser; start again.")
		return
	}
	now := h.now()
	h.mu.Lock()
	l, ok := h.logins[state]
	delete(h.logins, state)
	h.mu.Unlock()
	if !ok || now.Sub(l.Started) > loginTTL {
		h.ssoFail(w, http.StatusBadRequest, "This sign-in expired; start again.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: "", Path: Prefix + "oidc/", MaxAge: -1, HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteLaxMode})
	who, err := h.SSO.Finish(r.Context(), l, q.Get("code"))
	if errors.Is(err, authn.ErrNoRole) {
		slog.Warn("console: signed-in person has no role", "subject", who.Subject, "email", who.Email)
		h.ssoFail(w, http.StatusForbidden, "You signed in as "+who.Who()+", but none of your groups is given a role in Warden.")
		return
	}
	if err != nil {
		slog.Warn("console: single sign-on failed", "err", err)
		h.ssoFail(w, http.StatusUnauthorized, "The sign-in could not be verified.")
		return
	}
	slog.Info("console: signed in", "subject", who.Subject, "email", who.Email, "role", who.Role.String())
	h.startSession(w, r, who)
	http.Redirect(w, r, Prefix, http.StatusFound)
}
