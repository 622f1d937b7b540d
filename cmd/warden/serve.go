package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/wardenhq/warden/internal/admin"
	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/console"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/identity"
	"github.com/wardenhq/warden/internal/live"
	"github.com/wardenhq/warden/internal/record"
	"github.com/wardenhq/warden/internal/reload"
	"github.com/wardenhq/warden/internal/warden"
)

func init() { register(newServeCmd) }

type serveFlags struct {
	config, listen, adminListen, trusted, events, record, logFormat, logLevel string
	// ready, when set (tests), is told the listeners' addresses once both
	// accept connections.
	ready func(api, admin string)
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway",
		Long: `Run the gateway: the OpenAI- and Azure-compatible API on --listen and the
admin API, metrics and health on --admin-listen.

With no --config, Warden fronts its built-in mock provider (models mock-echo,
mock-lorem, mock-image) and says so in its log, so it runs out of the box.
On first start it writes an admin token to DATA/admin.token (mode 0600).
SIGTERM or SIGINT drains in-flight requests and streams, then stops. SIGHUP
(or POST /admin/v1/reload) re-reads --config: providers, models, deployment
pools, prices and guard policies change live; in-flight requests finish on
the old ones; a broken file is refused and the running configuration stays.`,
		Example: `  warden serve
  warden serve --config warden.yaml --data /var/lib/warden --trusted-proxies 10.0.0.0/8
  warden serve --events events.jsonl --log-format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			return runServe(ctx, cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", os.Getenv("WARDEN_CONFIG"), "YAML configuration file; ${NAME} is expanded from the environment (env WARDEN_CONFIG)")
	fl.StringVar(&f.listen, "listen", "", "address of the API (default 127.0.0.1:8080, or the config's listen)")
	fl.StringVar(&f.adminListen, "admin-listen", "", "address of the admin API and /metrics (default 127.0.0.1:8081)")
	fl.StringVar(&f.trusted, "trusted-proxies", "", "comma-separated CIDRs of proxies whose X-Forwarded-For is believed")
	fl.StringVar(&f.events, "events", "", "append one JSON line per request event to this file")
	fl.StringVar(&f.record, "record", "", "append every request to this file in the replay format (credentials replaced by key ids), for warden replay")
	fl.StringVar(&f.logFormat, "log-format", "", "log format: text or json (default text)")
	fl.StringVar(&f.logLevel, "log-level", "", "log level: debug, info, warn, error (default info)")
	return cmd
}

// loadConfig reads the config file (or the defaults) and applies flags that
// override it.
func loadConfig(cmd *cobra.Command, f serveFlags) (*config.Config, error) {
	cfg := config.Default()
	if f.config != "" {
		c, err := config.Load(f.config)
		if err != nil {
			return nil, err
		}
		cfg = c
	}
	if f.listen != "" {
		cfg.Listen = f.listen
	}
	if f.adminListen != "" {
		cfg.AdminListen = f.adminListen
	}
	if f.trusted != "" {
		cfg.TrustedProxies = splitList(f.trusted)
	}
	if f.events != "" {
		cfg.Events = f.events
	}
	if f.record != "" {
		cfg.Record = f.record
	}
	if f.logFormat != "" {
		cfg.Log.Format = f.logFormat
	}
	if f.logLevel != "" {
		cfg.Log.Level = f.logLevel
	}
	if cmd.Flags().Changed("data") || cmd.Root().PersistentFlags().Changed("data") || cfg.Data == "" || os.Getenv("WARDEN_DATA") != "" {
		cfg.Data = global.data
	}
	return cfg, cfg.Validate()
}

func runServe(ctx context.Context, cmd *cobra.Command, f serveFlags) error {
	cfg, err := loadConfig(cmd, f)
	if err != nil {
		return err
	}
	logger, err := newLogger(os.Stderr, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		return err
	}
	slog.SetDefault(logger)
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	be, err := openBackends(ctx, cfg, reg)
	if err != nil {
		return err
	}
	defer be.Close()
	adminToken, err := secretFile(filepath.Join(cfg.Data, "admin.token"), "wadm_")
	if err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	pseudo, err := secretFile(filepath.Join(cfg.Data, "pseudonym.key"), "")
	if err != nil {
		return fmt.Errorf("pseudonym key: %w", err)
	}
	var recorder func(*record.Record)
	if cfg.Record != "" {
		rw, err := newRecordFile(cfg.Record)
		if err != nil {
			return err
		}
		defer rw.close() // after the Warden closed: no record comes after
		recorder = rw.add
	}
	opts := warden.Options{Config: cfg, Store: be.store, Rater: be.rater, Gate: be.gate,
		Registry: reg, PseudonymKey: []byte(pseudo), Recorder: recorder}
	if be.redis != nil { // not a typed nil in the interface
		opts.Redis = be.redis
	}
	wd, err := warden.New(ctx, opts)
	if err != nil {
		return err
	}
	// The security console's live events and per-minute stats, with the
	// detector's risk per key.
	view := live.New(live.Options{Risk: wd.Detector.Risk})
	wd.Bus.Subscribe("console-live", view, event.Async(65536))
	wd.Start()
	defer wd.Close()
	// Live reload (SIGHUP, POST /admin/v1/reload): providers, models, pools,
	// prices, guard policies.
	rl := reload.New(cfg, func() (*config.Config, error) { return loadConfig(cmd, f) }, wd.Reload)
	rl.Watch(ctx, syscall.SIGHUP)
	adminMux, err := adminHandler(ctx, wd, view, rl, adminToken, reg)
	if err != nil {
		return err
	}
	return listenAndServe(ctx, cfg, wd, adminMux, f.ready)
}

// adminHandler is the admin listener: the admin API (with roles, single
// sign-on and the audit of admin actions), the security console, /metrics
// and /healthz.
func adminHandler(ctx context.Context, wd *warden.Warden, view *live.View, reloader http.Handler, token string, reg *prometheus.Registry) (http.Handler, error) {
	adm := newAdminServer(wd.Keys, token, "admin", adminParts{incidents: admin.NewIncidentsHandler(wd.Store, wd.Detector.Resolver(time.Now)), notify: wd.Notify})
	adm.OnKeyChange = wd.Gateway.InvalidateKey // changes made here hold from the next request
	adm.Mount(audit.APIPrefix, audit.Handler(wd.Audit, incidentScopes(wd.Store)))
	view.Mount(adm)
	adm.Mount("POST /admin/v1/reload", reloader)
	adm.Mount("GET /admin/v1/debug/pprof/", admin.Profiles())
	// Security console (internal/console): the web UI under /console/,
	// calling the admin API under a cookie session.
	con := &console.Handler{Token: token}
	oc := &wd.Sections.Operators
	sso, err := setupOperators(ctx, oc, wd.Config, wd.Audit, adm, con) // roles, single sign-on, audit of admin actions (operators.go)
	if err != nil {
		return nil, err
	}
	adminAPI := adm.Handler()
	con.Admin = adminAPI
	mux := http.NewServeMux()
	mux.Handle("/admin/", adminAPI)
	mux.Handle(console.Prefix, con)
	mux.Handle("/console", con)
	mux.Handle("GET /metrics", metricsGuard(oc.MetricsToken, token, sso, promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	return mux, nil
}

// listenAndServe serves the gateway and the admin handler until ctx ends
// or either listener fails, then drains both.
func listenAndServe(ctx context.Context, cfg *config.Config, wd *warden.Warden, adminMux http.Handler, ready func(api, admin string)) error {
	ln, scheme, err := listenMain(cfg)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	aln, adminScheme, err := listenAdmin(cfg, &wd.Sections.Operators)
	if err != nil {
		ln.Close()
		return err
	}
	if cfg.Tracing.Enabled() { // flushed by wd.Close
		if u, err := url.Parse(cfg.Tracing.OTLPEndpoint); err == nil {
			slog.Info("traces exported by OTLP/HTTP", "collector", u.Scheme+"://"+u.Host) // no user info, no query
		}
	}
	if cfg.UsesMock() {
		slog.Warn("no providers configured: fronting the built-in mock provider", "models", strings.Join(wd.Gateway.Models(), ","))
	}
	slog.Info("warden serving", "api", scheme+"://"+ln.Addr().String(), "admin", adminScheme+"://"+aln.Addr().String(),
		"data", cfg.Data, "admin_token_file", filepath.Join(cfg.Data, "admin.token"))

	sctx, stopServers := context.WithCancel(ctx)
	defer stopServers()
	errc := make(chan error, 2)
	go func() {
		errc <- gateway.Serve(sctx, gateway.NewHTTPServer(wd.Gateway, cfg.Limits), ln, cfg.Limits.ShutdownTimeout)
	}()
	go func() {
		errc <- gateway.Serve(sctx, gateway.NewHTTPServer(adminMux, cfg.Limits), aln, 5*time.Second)
	}()
	if ready != nil {
		ready(ln.Addr().String(), aln.Addr().String())
	}
	var first error
	for range 2 {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) && first == nil {
			first = err
			stopServers() // one listener failed: take the other down too
		}
	}
	slog.Info("warden stopping: flushing usage and events")
	return first
}

// listenMain opens the main listener, with TLS when configured, and
// returns its URL scheme.
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
