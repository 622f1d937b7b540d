// Package reload re-reads Warden's configuration while it serves: on SIGHUP
// and on POST /admin/v1/reload.
//
// A reload parses the whole file again and hands the result to Apply, which
// provisions new running state beside the old and switches new requests to
// it (the gateway's providers, models, deployment pools, prices and guard
// policies). Requests and streams already running finish on the state they
// started with. A file that does not parse or validate, or that Apply
// refuses, changes nothing: the error is logged and returned, and the
// running configuration stays.
//
// Some settings are read once, when the server starts: the listeners, the
// data directory, the store and Redis, limits, TLS, identity, logging, the
// audit log, detection and alerting, the event and record files. A reload
// that changes one of them logs that a restart is needed and names it in
// its answer; the rest of the file still applies.
package reload

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"strings"
	"sync"

	"github.com/wardenhq/warden/internal/config"
)

// Reloader runs reloads one at a time.
type Reloader struct {
	load  func() (*config.Config, error)
	apply func(*config.Config) error
	start *config.Config // what the fixed settings were read from

	// Done, if set, is called after every reload attempt with its outcome.
	// nil: nobody is told beyond the log.
	Done func(Result, error)

	mu sync.Mutex // serialises reloads
}

// Result is what a reload changed, or could not.
type Result struct {
	// Restart names the settings that differ from the running ones but
	// only take effect after a restart.
	Restart []string `json:"restart_needed,omitempty"`
}

// New returns a Reloader. start is the configuration the server started
// with; load reads and parses the file; apply provisions a new
// configuration and switches to it, or returns an error and changes
// nothing.
func New(start *config.Config, load func() (*config.Config, error), apply func(*config.Config) error) *Reloader {
	return &Reloader{start: start, load: load, apply: apply}
}

// Reload reads the configuration again and applies it.
func (r *Reloader) Reload() (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res, err := r.reloadLocked()
	if err != nil {
		slog.Error("reload: configuration refused; the running configuration stays", "err", err)
	} else if len(res.Restart) > 0 {
		slog.Warn("reload: applied; these settings changed but need a restart to take effect", "settings", strings.Join(res.Restart, ", "))
	} else {
		slog.Info("reload: configuration applied")
	}
	if r.Done != nil {
		r.Done(res, err)
	}
	return res, err
}

func (r *Reloader) reloadLocked() (Result, error) {
	cfg, err := r.load()
	if err != nil {
		return Result{}, err
	}
	if cfg == nil {
		return Result{}, errors.New("reload: no configuration")
	}
	if err := r.apply(cfg); err != nil {
		return Result{}, err
	}
	return Result{Restart: Fixed(r.start, cfg)}, nil
}

// fixed lists the settings read only at start, by their name in the file.
var fixed = []struct {
	name string
	get  func(*config.Config) any
}{
	{"listen", func(c *config.Config) any { return c.Listen }},
	{"admin_listen", func(c *config.Config) any { return c.AdminListen }},
	{"data", func(c *config.Config) any { return c.Data }},
	{"store", func(c *config.Config) any { return c.Store }},
	{"redis", func(c *config.Config) any { return c.Redis }},
	{"instance", func(c *config.Config) any { return c.Instance }},
	{"trusted_proxies", func(c *config.Config) any { return c.TrustedProxies }},
	{"log", func(c *config.Config) any { return c.Log }},
	{"limits", func(c *config.Config) any { return c.Limits }},
	{"tls", func(c *config.Config) any { return c.TLS }},
	{"identity", func(c *config.Config) any { return c.Identity }},
	{"audit", func(c *config.Config) any { return c.Audit }},
	{"detect", func(c *config.Config) any { return c.Detect }},
	{"secret_scanning", func(c *config.Config) any { return c.SecretScanning }},
	{"events", func(c *config.Config) any { return c.Events }},
	{"record", func(c *config.Config) any { return c.Record }},
	{"guard.disabled", func(c *config.Config) any { return c.Guard.Disabled }},
	{"guard.stream_holdback", func(c *config.Config) any { return c.Guard.StreamHoldback }},
	{"guard.memo_entries", func(c *config.Config) any { return c.Guard.MemoEntries }},
	{"guard.moderators", func(c *config.Config) any { return c.Guard.Moderators }},
}

// Fixed names the start-only settings that differ between old and new.
func Fixed(old, new *config.Config) []string {
	var out []string
	for _, f := range fixed {
		if !reflect.DeepEqual(f.get(old), f.get(new)) {
			out = append(out, f.name)
		}
	}
	return out
}

// Watch reloads on each of sigs (usually SIGHUP) until ctx ends. The
// signals are caught from the moment Watch returns.
func (r *Reloader) Watch(ctx context.Context, sigs ...os.Signal) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-ch:
				slog.Info("reload: signal received", "signal", s.String())
				r.Reload()
			}
		}
	}()
}

// ServeHTTP is the admin API's POST /admin/v1/reload: 200 with the Result,
// or 422 with the reason the configuration was refused. Mount it behind the
// admin API's authentication.
func (r *Reloader) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		w.WriteHeader(http.StatusMethodNotAllowed)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"message": "use POST"}})
		return
	}
	res, err := r.Reload()
	if err != nil {
		w.WriteHeader(http.StatusUnprocessableEntity)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{
			"code": "config_refused", "message": err.Error() + "; the running configuration stays"}})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"reloaded": true, "restart_needed": res.Restart})
}
