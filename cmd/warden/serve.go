package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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
	"github.com/wardenhq/warden/internal/fanout"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/record"
	"github.com/wardenhq/warden/internal/scan/ghpartner"
	"github.com/wardenhq/warden/internal/scan/revoke"
	"github.com/wardenhq/warden/internal/store"
)

func init() { register(newServeCmd) }

type serveFlags struct {
	config, listen, adminListen, trusted, events, record, logFormat, logLevel string
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
SIGTERM or SIGINT drains in-flight requests and streams, then stops.`,
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
	be, err := openBackends(ctx, cfg, reg)
	if err != nil {
		return err
	}
	defer be.Close()
	// raw is the store itself (it also keeps the audit log, profiles and
	// incidents); st is what changes keys: with Redis, every change is
	// published so all instances drop their cached copy at once.
	raw := be.store
	st := raw
	var keyChanges func(context.Context, func([]string)) error
	if be.redis != nil {
		st = fanout.Notify(raw, fanout.NewPublisher(be.redis, ""), nil)
		keyChanges = func(ctx context.Context, changed func([]string)) error {
			rev, err := gateway.CatchUp(ctx, raw)
			if err != nil {
				return err
			}
			return fanout.NewWatcher(raw, be.redis, fanout.Options{Since: rev}).Run(ctx, changed)
		}
	}
	adminToken, err := secretFile(filepath.Join(cfg.Data, "admin.token"), "wadm_")
	if err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	pseudo, err := secretFile(filepath.Join(cfg.Data, "pseudonym.key"), "")
	if err != nil {
		return fmt.Errorf("pseudonym key: %w", err)
	}

	bus := &event.Bus{}
	if cfg.Events != "" {
		file, err := os.OpenFile(cfg.Events, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("events file: %w", err)
		}
		sink := event.NewJSONL(file)
		defer sink.Close()
		bus.AddAsync("events-file", sink, 65536)
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	alog, err := openAuditLog(ctx, raw, cfg)
	if err != nil {
		return err
	}
	defer alog.Close()
	var recorder func(*record.Record)
	if cfg.Record != "" {
		rw, err := newRecordFile(cfg.Record)
		if err != nil {
			return err
		}
		defer rw.close()
		recorder = rw.add
	}
	det, err := newDetection(cfg, st, raw)
	if err != nil {
		return err
	}
	bus.AddSync(det.d)
	// Security console: live events and per-minute stats for its charts,
	// with the detector's risk per key.
	live := admin.NewLive(admin.LiveOptions{Risk: det.d.Risk})
	bus.AddAsync("console-live", live, 65536)
	extra := map[string]http.Handler{}
	if gh := cfg.SecretScanning.GitHub; gh.PublicKeysFile != "" || gh.PublicKeysURL != "" {
		keyStore := &revoke.Store{Keys: st}
		if ds, ok := raw.(store.Incidents); ok {
			keyStore.OnRevoke = leakRecorder(ds, "github", det.disp.Notify)
		}
		extra[ghpartner.Path] = &ghpartner.Handler{Keys: &ghpartner.Keys{File: gh.PublicKeysFile, URL: gh.PublicKeysURL},
			Lookup: keyStore, Revoker: keyStore}
		slog.Info("GitHub secret-scanning partner endpoint enabled", "path", ghpartner.Path)
	}
	g, policies, err := newGuard(cfg.Guard)
	if err != nil {
		return err
	}
	mods, err := newModerators(g, cfg.Guard)
	if err != nil {
		return err
	}
	kl, err := newKeyless(cfg, bus)
	if err != nil {
		return err
	}
	kl.addRoutes(extra)
	gw, err := gateway.New(gateway.Options{
		Authenticators: kl.authenticators(),
		Guard:          g,
		GuardPolicy:    policies,
		Moderators:     mods,
		Journal:        auditJournal(alog),
		StepUp:         det.d.AllowsStepUp,
		Recorder:       recorder,
		KeyChanges:     keyChanges,
		Extra:          extra,
		Config:         cfg,
		Store:          st,
		Bus:            bus,
		Rater:          be.rater,
		Gate:           be.gate,
		Metrics:        gateway.NewMetrics(reg),
		PseudonymKey:   []byte(pseudo),
	})
	if err != nil {
		return err
	}

	kl.gw = gw

	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bgDone := gw.Start(runCtx)
	kl.warm(runCtx)
	det.apply = gw.InvalidateKey
	detDone := make(chan struct{})
	go func() { det.d.Run(runCtx, 10*time.Second); close(detDone) }()

	adm := newAdminServer(st, adminToken, "admin", adminParts{incidents: det.d.IncidentsHandler(), notify: det.disp.Notify, incidentStore: incidentsOf(raw)})
	adm.OnKeyChange = gw.InvalidateKey // changes made here hold from the next request
	var scopes audit.Incidents
	if ds := incidentsOf(raw); ds != nil {
		scopes = incidentScopes(ds)
	}
	adm.Mount(audit.APIPrefix, audit.Handler(alog, scopes))
	adminMux := http.NewServeMux()
	live.Mount(adm)
	adminAPI := adm.Handler()
	adminMux.Handle("/admin/", adminAPI)
	// Security console (internal/console): the web UI under /console/, calling
	// the admin API under a cookie session.
	con := &console.Handler{Token: adminToken, Admin: adminAPI}
	sso, err := setupOperators(ctx, cfg, alog, adm, con) // roles, single sign-on, audit of admin actions (operators.go)
	if err != nil {
		return err
	}
	adminMux.Handle(console.Prefix, con)
	adminMux.Handle("/console", con)
	adminMux.Handle("GET /metrics", metricsGuard(cfg.Operators.MetricsToken, adminToken, sso, promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	adminMux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })

	ln, scheme, err := listenMain(cfg)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	aln, adminScheme, err := listenAdmin(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	if cfg.UsesMock() {
		slog.Warn("no providers configured: fronting the built-in mock provider", "models", strings.Join(gw.Models(), ","))
	}
	slog.Info("warden serving", "api", scheme+"://"+ln.Addr().String(), "admin", adminScheme+"://"+aln.Addr().String(),
		"data", cfg.Data, "admin_token_file", filepath.Join(cfg.Data, "admin.token"))

	sctx, stopServers := context.WithCancel(ctx)
	defer stopServers()
	errc := make(chan error, 2)
	go func() {
		errc <- gateway.Serve(sctx, gateway.NewHTTPServer(gw, cfg.Limits), ln, cfg.Limits.ShutdownTimeout)
	}()
	go func() {
		errc <- gateway.Serve(sctx, gateway.NewHTTPServer(adminMux, cfg.Limits), aln, 5*time.Second)
	}()
	var first error
	for range 2 {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) && first == nil {
			first = err
			stopServers() // one listener failed: take the other down too
		}
	}
	slog.Info("warden stopping: flushing usage and events")
	cancel()
	<-bgDone
	<-detDone
	det.close(context.Background())
	bus.Close()
	return first
}
