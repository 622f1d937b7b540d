package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/identity"
	"github.com/wardenhq/warden/internal/keys"
)

// keyless wires package identity into serve: OIDC workload identity,
// short-lived tokens (POST /v1/warden/token), client certificates, and the
// TLS listener. The identity services look keys up through the gateway's
// cache, so gw is set right after gateway.New, before any request arrives.
type keyless struct {
	set *identity.Set
	gw  *gateway.Server
}

func newKeyless(cfg *config.Config, bus *event.Bus) (*keyless, error) {
	kl := &keyless{}
	set, err := identity.New(identity.Options{
		Config:  cfg.Identity,
		DataDir: cfg.Data,
		KeyByID: func(ctx context.Context, id string) (*keys.Key, error) { return kl.gw.KeyByID(ctx, id) },
		KeyByHash: func(ctx context.Context, h keys.Hash) (*keys.Key, error) {
			return kl.gw.KeyByHash(ctx, h)
		},
		ClientAddr: func(r *http.Request) netip.Addr { return kl.gw.ClientAddr(r) },
		TLSState:   gateway.TLSState,
		Publish:    bus.Publish,
	})
	if err != nil {
		return nil, err
	}
	kl.set = set
	return kl, nil
}

// authenticators are the gateway's Authenticators, in order.
func (kl *keyless) authenticators() []gateway.Authenticator {
	var out []gateway.Authenticator
	for _, a := range kl.set.Authenticators() {
		out = append(out, a)
	}
	return out
}

// addRoutes mounts the token endpoint, if enabled, on the main listener.
func (kl *keyless) addRoutes(extra map[string]http.Handler) {
	for path, h := range kl.set.Routes() {
		extra[path] = h
		slog.Info("short-lived token endpoint enabled", "path", path)
	}
}

// warm fetches issuer keys in the background so mistakes show at start-up.
func (kl *keyless) warm(ctx context.Context) {
	go func() {
		if err := kl.set.Warm(ctx); err != nil {
			slog.Warn("identity: cannot fetch OIDC issuer keys yet; will retry on use", "err", err)
		}
	}()
}

// listen opens the main listener, with TLS when configured, and returns
// its URL scheme.
func listenMain(cfg *config.Config) (net.Listener, string, error) {
	if !cfg.TLS.Enabled() {
		ln, err := gateway.Listen(cfg.Listen)
		return ln, "http", err
	}
	tc, err := identity.ServerTLS(cfg.TLS)
	if err != nil {
		return nil, "", err
	}
	ln, err := gateway.ListenTLS(cfg.Listen, tc)
	return ln, "https", err
}
