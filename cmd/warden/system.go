package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/admin"
	"github.com/wardenhq/warden/internal/alert"
	"github.com/wardenhq/warden/internal/detect"
	"github.com/wardenhq/warden/internal/hygiene"
	"github.com/wardenhq/warden/internal/incident"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/scan/revoke"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

// openStore opens the embedded store in dir, creating dir (mode 0700).
func openStore(ctx context.Context, dir string) (store.Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	return sqlite.Open(ctx, dir)
}

// adminParts are the domain handlers of a running server; the in-process
// CLI leaves them nil and gets store-backed equivalents.
type adminParts struct {
	incidents http.Handler
	notify    func(alert.Alert) // the alert sinks; nil: none
	// incidentStore keeps incidents when st (e.g. a publishing wrapper)
	// does not itself; nil: st's, if it has them.
	incidentStore store.Incidents
}

// incidentsOf returns st as an incident store, or nil.
func incidentsOf(st store.Store) store.Incidents {
	ds, _ := st.(store.Incidents)
	return ds
}

// newAdminServer assembles the admin API over st. Every domain that has
// admin endpoints mounts them here, so the server and the in-process CLI
// offer the same API.
func newAdminServer(st store.Store, token, by string, parts adminParts) *admin.Server {
	a := &admin.Server{Store: st, Token: token, By: by}
	ds := parts.incidentStore
	if ds == nil {
		ds = incidentsOf(st)
	}
	a.Mount(hygiene.Pattern, &hygiene.Handler{Store: st})
	inc := parts.incidents
	if inc == nil && ds != nil {
		inc = detect.NewIncidentsHandler(ds, detect.ResolveStored(ds, st, time.Now))
	}
	if inc != nil {
		a.Mount("/admin/v1/incidents", inc)
		a.Mount("/admin/v1/incidents/", inc)
	}
	if ds != nil {
		rec := leakRecorder(ds, "scanner", parts.notify)
		a.OnStatus = func(ctx context.Context, k *keys.Key, by, reason string) {
			if k.Status == keys.StatusRevoked && by == "scanner" {
				rec(ctx, revoke.Revocation{KeyID: k.ID, Owner: k.Owner, Reason: reason, Where: reason, At: time.Now().UTC()})
			}
		}
	}
	return a
}

// leakRecorder returns what to do when a leaked key has been revoked: open
// an incident that says where it was found, and tell the alert sinks.
func leakRecorder(st store.Incidents, by string, notify func(alert.Alert)) func(ctx context.Context, r revoke.Revocation) error {
	return func(ctx context.Context, r revoke.Revocation) error {
		in := incident.FromLeak(incident.Leak{KeyID: r.KeyID, KeyOwner: r.Owner, KeyKind: string(keys.KindStandard),
			Where: r.Where, By: by, At: r.At})
		if err := st.PutIncident(ctx, in); err != nil {
			slog.Error("scan: cannot record the leak incident", "key", r.KeyID, "err", err)
			return err
		}
		if notify != nil {
			notify(alert.Alert{Key: in.ID + "/revoke", TS: r.At, KeyID: r.KeyID, KeyOwner: r.Owner, Severity: in.Severity,
				Action: "revoke", Reason: in.Title, IncidentID: in.ID})
		}
		return nil
	}
}

// secretFile returns the secret stored in path, creating it (mode 0600)
// with a fresh random value on first use.
func secretFile(path, prefix string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("%s is empty", path)
		}
		return s, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	s := prefix + base64.RawURLEncoding.EncodeToString(raw[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) { // another process won the race
			return secretFile(path, prefix)
		}
		return "", err
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return "", err
	}
	return s, f.Close()
}

// adminClient talks to the admin API: over HTTP to a running server
// (--admin-url), or in process on the data directory (--data).
type adminClient struct {
	base  string
	token string
	hc    *http.Client
	close func()
}

// newAdminClient picks the mode from the global flags.
func newAdminClient(ctx context.Context) (*adminClient, error) {
	if global.adminURL != "" {
		tok := os.Getenv("WARDEN_ADMIN_TOKEN")
		if tok == "" {
			tok = savedToken(strings.TrimRight(global.adminURL, "/"), time.Now()) // warden login (login.go)
		}
		if tok == "" {
			return nil, errors.New("--admin-url needs the admin token in WARDEN_ADMIN_TOKEN (see DATA/admin.token), or run warden login")
		}
		return &adminClient{base: strings.TrimRight(global.adminURL, "/"), token: tok,
			hc: &http.Client{}, close: func() {}}, nil
	}
	st, err := openStore(ctx, global.data)
	if err != nil {
		return nil, err
	}
	h := newAdminServer(st, "", "cli", adminParts{}).Handler()
	return &adminClient{base: "http://warden.local", hc: &http.Client{Transport: inProcess{h}},
		close: func() { st.Close() }}, nil
}

// inProcess serves requests with a handler, for the CLI's --data mode.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}
