package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/admin"
	"github.com/wardenhq/warden/internal/alert"
	"github.com/wardenhq/warden/internal/detect"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/scan/revoke"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/sqlite"
	"github.com/wardenhq/warden/internal/warden"
)

// openStore opens the embedded store in dir, creating dir (mode 0700).
func openStore(ctx context.Context, dir string) (*sqlite.DB, error) {
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
}

// newAdminServer assembles the admin API over st. Every domain that has
// admin endpoints mounts them here, so the server and the in-process CLI
// offer the same API.
func newAdminServer(st store.Store, token, by string, parts adminParts) *admin.Server {
	a := &admin.Server{Store: st, Token: token, By: by}
	a.Mount(admin.KeyAuditPattern, &admin.KeyAuditHandler{Store: st})
	inc := parts.incidents
	if inc == nil {
		inc = admin.NewIncidentsHandler(st, detect.ResolveStored(st, st, time.Now))
	}
	a.Mount("/admin/v1/incidents", inc)
	a.Mount("/admin/v1/incidents/", inc)
	rec := warden.LeakRecorder(st, "scanner", parts.notify)
	a.OnStatus = func(ctx context.Context, k *keys.Key, by, reason string) {
		if k.Status == keys.StatusRevoked && by == "scanner" {
			rec(ctx, revoke.Revocation{KeyID: k.ID, Owner: k.Owner, Reason: reason, Where: reason, At: time.Now().UTC()})
		}
	}
	return a
}

// secretFile returns the secret stored in path, creating it (mode 0600)
// with a fresh random value on first use. It refuses a file that group or
// others may read or write (admin.token, pseudonym.key): a secret anyone on
// the machine can read is no secret, and Warden says how to fix it.
func secretFile(path, prefix string) (string, error) {
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s has mode %04o and is readable by others; run: chmod 600 %s", path, fi.Mode().Perm(), path)
	}
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
