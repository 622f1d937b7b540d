// Package alert delivers detector decisions to people and systems: an HTTP
// webhook (JSON, signed with HMAC-SHA256), a Slack-compatible webhook
// ({"text": ...}), a JSONL file and syslog (RFC 5424) for a SIEM.
//
// A Dispatcher queues alerts and sends them from its own goroutine, so a
// slow receiver never slows a request; every send has a timeout; the same
// alert (same Key) is sent at most once per dedup window; when the queue is
// full, alerts are dropped and counted.
//
// # Webhook signature
//
// The webhook sink sends
//
//	POST <url>
//	Content-Type: application/json
//	X-Warden-Timestamp: 1767225600
//	X-Warden-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// Receivers recompute the HMAC over the timestamp, a dot and the raw body,
// compare in constant time, and reject old timestamps to stop replays.
package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Alert is one notification.
type Alert struct {
	// Key identifies the alert for deduplication, e.g. incident id + action.
	Key        string    `json:"-"`
	TS         time.Time `json:"ts"`
	KeyID      string    `json:"key_id"`
	KeyOwner   string    `json:"key_owner,omitempty"`
	Severity   string    `json:"severity"`
	Action     string    `json:"action"`
	Reason     string    `json:"reason"`
	IncidentID string    `json:"incident_id,omitempty"`
	Risk       float64   `json:"risk,omitempty"`
}

// Text is a one-line human summary.
func (a Alert) Text() string {
	owner := ""
	if a.KeyOwner != "" {
		owner = " (owner " + a.KeyOwner + ")"
	}
	return fmt.Sprintf("[Warden %s] %s on key %s%s: %s — incident %s", a.Severity, a.Action, a.KeyID, owner, a.Reason, a.IncidentID)
}

// Sink delivers alerts. Send must honour ctx's deadline.
type Sink interface {
	Send(ctx context.Context, a Alert) error
}

// Config lists the sinks, under `detect: alerts:` in the server config.
//
//	alerts:
//	  dedup: 1h
//	  sinks:
//	    - {type: webhook, url: "https://siem.example/hook", secret_env: WARDEN_WEBHOOK_SECRET}
//	    - {type: slack, url: "https://hooks.slack.com/services/…", min_severity: high}
//	    - {type: jsonl, path: /var/log/warden/alerts.jsonl}
//	    - {type: syslog, network: udp, address: "127.0.0.1:514"}
type Config struct {
	Dedup time.Duration `yaml:"dedup" json:"dedup,omitempty"` // default 1h
	Queue int           `yaml:"queue" json:"queue,omitempty"` // default 1024
	Sinks []SinkConfig  `yaml:"sinks" json:"sinks,omitempty"`
}

// SinkConfig configures one sink.
type SinkConfig struct {
	Type        string        `yaml:"type" json:"type"` // webhook, slack, jsonl, syslog
	URL         string        `yaml:"url" json:"url,omitempty"`
	SecretEnv   string        `yaml:"secret_env" json:"secret_env,omitempty"` // environment variable holding the HMAC secret
	Path        string        `yaml:"path" json:"path,omitempty"`
	Network     string        `yaml:"network" json:"network,omitempty"` // syslog: udp, tcp or unix
	Address     string        `yaml:"address" json:"address,omitempty"`
	Tag         string        `yaml:"tag" json:"tag,omitempty"`
	Timeout     time.Duration `yaml:"timeout" json:"timeout,omitempty"`           // default 5s
	MinSeverity string        `yaml:"min_severity" json:"min_severity,omitempty"` // default: all
}

var severities = map[string]int{"": 0, "info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}

type target struct {
	name    string
	sink    Sink
	timeout time.Duration
	min     int
}

// Dispatcher fans alerts out to sinks asynchronously.
type Dispatcher struct {
	targets []target
	dedup   time.Duration
	ch      chan Alert
	wg      sync.WaitGroup
	log     *slog.Logger

	mu   sync.Mutex
	seen map[string]time.Time // alert key -> when sent (event time)

	dropped atomic.Int64
	failed  atomic.Int64
}

// New builds the sinks of cfg and starts the dispatcher. getenv reads
// secrets (os.Getenv in production).
func New(cfg Config, getenv func(string) string, log *slog.Logger) (*Dispatcher, error) {
	if log == nil {
		log = slog.Default()
	}
	d := &Dispatcher{dedup: cfg.Dedup, log: log, seen: map[string]time.Time{}}
	if d.dedup == 0 {
		d.dedup = time.Hour
	}
	q := cfg.Queue
	if q <= 0 {
		q = 1024
	}
	for i, sc := range cfg.Sinks {
		s, err := build(sc, getenv)
		if err != nil {
			return nil, fmt.Errorf("alert: sink %d (%s): %w", i, sc.Type, err)
		}
		min, ok := severities[sc.MinSeverity]
		if !ok {
			return nil, fmt.Errorf("alert: sink %d: unknown min_severity %q", i, sc.MinSeverity)
		}
		t := sc.Timeout
		if t <= 0 {
			t = 5 * time.Second
		}
		d.targets = append(d.targets, target{name: sc.Type, sink: s, timeout: t, min: min})
	}
	d.ch = make(chan Alert, q)
	d.wg.Add(1)
	go d.run()
	return d, nil
}

func build(sc SinkConfig, getenv func(string) string) (Sink, error) {
	switch sc.Type {
	case "webhook":
		var secret []byte
		if sc.SecretEnv != "" {
			secret = []byte(getenv(sc.SecretEnv))
			if len(secret) == 0 {
				return nil, fmt.Errorf("secret_env %s is empty", sc.SecretEnv)
			}
		}
		return NewWebhook(sc.URL, secret)
	case "slack":
		return NewSlack(sc.URL)
	case "jsonl":
		return NewJSONL(sc.Path)
	case "syslog":
		return NewSyslog(sc.Network, sc.Address, sc.Tag)
	}
	return nil, fmt.Errorf("unknown type %q (want webhook, slack, jsonl or syslog)", sc.Type)
}

// Notify queues a for delivery unless the same alert was sent within the
// dedup window (in event time). It never blocks.
func (d *Dispatcher) Notify(a Alert) {
	if a.Key != "" {
		d.mu.Lock()
		last, ok := d.seen[a.Key]
		if ok && a.TS.Sub(last) < d.dedup && !a.TS.Before(last) {
			d.mu.Unlock()
			return
		}
		d.seen[a.Key] = a.TS
		if len(d.seen) > 100000 {
			for k, t := range d.seen {
				if a.TS.Sub(t) > d.dedup {
					delete(d.seen, k)
				}
			}
		}
		d.mu.Unlock()
	}
	select {
	case d.ch <- a:
	default:
		if d.dropped.Add(1)%100 == 1 {
			d.log.Warn("alert: queue full, dropping alerts")
		}
	}
}

func (d *Dispatcher) run() {
	defer d.wg.Done()
	for a := range d.ch {
		rank := severities[a.Severity]
		for _, t := range d.targets {
			if rank < t.min {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), t.timeout)
			err := t.sink.Send(ctx, a)
			cancel()
			if err != nil {
				d.failed.Add(1)
				d.log.Warn("alert: delivery failed", "sink", t.name, "incident_id", a.IncidentID, "err", err)
			}
		}
	}
}

// Stats returns how many alerts were dropped (queue full) and how many
// deliveries failed.
func (d *Dispatcher) Stats() (dropped, failed int64) { return d.dropped.Load(), d.failed.Load() }

// Close delivers what is queued and stops. Notify must not be called after.
func (d *Dispatcher) Close() error {
	close(d.ch)
	d.wg.Wait()
	var errs []error
	for _, t := range d.targets {
		if c, ok := t.sink.(interface{ Close() error }); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}
