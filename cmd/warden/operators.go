package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/wardenhq/warden/internal/admin"
	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/authn"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/console"
	"github.com/wardenhq/warden/internal/event"
)

// setupOperators wires who may do what on the admin listener: the shared
// token's role, single sign-on (console sessions and ID tokens as bearer
// tokens), the console's trusted proxies, and the audit trail of admin
// actions. It returns the OIDC provider (nil when none is configured).
func setupOperators(ctx context.Context, oc *authn.Config, cfg *config.Config, alog *audit.Log, adm *admin.Server, con *console.Handler) (*authn.Provider, error) {
	adm.ServiceRole = oc.ServiceRole()
	con.ServiceRole = adm.ServiceRole
	con.TTL = oc.SessionTTL
	for _, s := range cfg.TrustedProxies {
		if p, err := config.ParsePrefix(s); err == nil {
			con.TrustedProxies = append(con.TrustedProxies, p)
		}
	}
	adm.OnAction = adminAudit(alog)
	if oc.OIDC.Issuer == "" {
		return nil, nil
	}
	p, err := authn.NewProvider(ctx, oc, nil)
	if err != nil {
		return nil, err
	}
	adm.Bearer = p.Bearer
	con.SSO = p
	con.CLI = p.CLI()
	slog.Info("operator single sign-on enabled", "issuer", oc.OIDC.Issuer, "redirect", oc.OIDC.RedirectURL)
	return p, nil
}

// adminAudit puts every write to the admin API, allowed or refused, in the
// audit log as an event naming the person and the role they acted with:
// endpoint "admin", the key the action was about, the HTTP status, and
// the actor. These entries are part of a key's evidence export.
func adminAudit(l *audit.Log) func(ctx context.Context, a admin.Action) {
	return func(ctx context.Context, a admin.Action) {
		e := &event.Event{ID: "adm_" + strings.ToLower(rand.Text()[:16]), Time: a.Time, KeyID: a.KeyID,
			Method: a.Method, Path: a.Path, Endpoint: "admin", Status: a.Status, AuthMethod: a.Principal.Method,
			Actor: &event.Actor{Subject: a.Principal.Subject, Email: a.Principal.Email, Role: a.Role.String(), Method: a.Principal.Method}}
		if a.Status == http.StatusForbidden {
			e.Refusal = "role"
		}
		if _, err := l.Append(context.WithoutCancel(ctx), e, nil); err != nil {
			slog.Error("admin: cannot write the action to the audit log", "path", a.Path, "who", a.Principal.Who(), "err", err)
		}
	}
}

// metricsGuard makes /metrics need the admin token or a person's ID token
// when operators.metrics_token is set. /metrics never carries key secrets;
// it carries key IDs as labels (per-key dashboards and alerts need them;
// an ID is not a credential), which is why it can be closed.
func metricsGuard(on bool, token string, p *authn.Provider, h http.Handler) http.Handler {
	if !on {
		return h
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		g := sha256.Sum256([]byte(got))
		if ok && subtle.ConstantTimeCompare(g[:], want[:]) == 1 {
			h.ServeHTTP(w, r)
			return
		}
		if ok && p != nil {
			if pr, err := p.Bearer(r.Context(), got); err == nil && pr.Role.Allows(authn.Viewer) {
				h.ServeHTTP(w, r)
				return
			}
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="warden-metrics"`)
		admin.Error(w, http.StatusUnauthorized, "unauthorized", "metrics need Authorization: Bearer TOKEN")
	})
}

// listenAdmin opens the admin listener, over TLS when operators.tls is set.
func listenAdmin(cfg *config.Config, oc *authn.Config) (net.Listener, string, error) {
	ln, err := net.Listen("tcp", cfg.AdminListen)
	if err != nil {
		return nil, "", fmt.Errorf("admin listen %s: %w", cfg.AdminListen, err)
	}
	t := oc.TLS
	if t.CertFile == "" {
		return ln, "http", nil
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		ln.Close()
		return nil, "", fmt.Errorf("admin TLS: %w", err)
	}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), "https", nil
}
