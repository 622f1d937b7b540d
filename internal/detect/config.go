package detect

import (
	"errors"

	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/alert"
)

// Config is the detector's configuration, embedded in the server config
// under `detect:`. Zero values take the defaults of DefaultConfig, so an
// empty section is a working, conservative policy.
//
//	detect:
//	  policy:
//	    alert_at: 25        # risk at which an incident alerts
//	    step_up_at: 50      # only the key's known networks and clients pass
//	    throttle_at: 50     # used instead of step-up when the key has no known clients yet
//	    suspend_at: 100     # needs two kinds of signal or one strong one
//	    revoke_at: 0        # 0: never revoke automatically
//	    half_life: 6h       # risk halves after this much event time without signals
//	    action_ttl: 24h     # how long throttle and step-up last
//	    incident_gap: 24h   # quiet time after which a new incident opens
//	    weights: {new_client: 25}   # override a signal's weight by name
//	  learning:
//	    min_requests: 30
//	    min_age: 6h
//	  allow:
//	    monitor_user_agents: ["kube-probe", "UptimeRobot"]
//	    monitor_cidrs: ["198.51.100.0/24"]
//	    known_cidrs: ["10.0.0.0/8"]
//	  canary:
//	    action: alert       # alert (tarpit: keep the decoy answering), suspend or revoke
//	  alerts:               # see package alert
//	    sinks: [{type: jsonl, path: /var/log/warden/alerts.jsonl}]
type Config struct {
	Policy   Policy   `yaml:"policy" json:"policy"`
	Learning Learning `yaml:"learning" json:"learning"`
	Allow    Allow    `yaml:"allow" json:"allow"`
	Canary   Canary   `yaml:"canary" json:"canary"`
	// Alerts are the sinks decisions are sent to (see package alert).
	Alerts alert.Config `yaml:"alerts" json:"alerts"`
}

// Policy maps risk to actions.
type Policy struct {
	AlertAt     float64            `yaml:"alert_at" json:"alert_at"`
	StepUpAt    float64            `yaml:"step_up_at" json:"step_up_at"`
	ThrottleAt  float64            `yaml:"throttle_at" json:"throttle_at"`
	SuspendAt   float64            `yaml:"suspend_at" json:"suspend_at"`
	RevokeAt    float64            `yaml:"revoke_at" json:"revoke_at"`
	HalfLife    time.Duration      `yaml:"half_life" json:"half_life"`
	ActionTTL   time.Duration      `yaml:"action_ttl" json:"action_ttl"`
	IncidentGap time.Duration      `yaml:"incident_gap" json:"incident_gap"`
	Weights     map[string]float64 `yaml:"weights" json:"weights,omitempty"`
}

// Learning says when a key has enough history for "new" to mean something.
// Before that, a key is in cold start: new networks and clients are learned,
// not flagged; only signals that need no baseline (probe shapes, attacker
// phrases, pooling, canaries) count.
type Learning struct {
	MinRequests int           `yaml:"min_requests" json:"min_requests"`
	MinAge      time.Duration `yaml:"min_age" json:"min_age"`
	// A client (network or fingerprint) is known once it sent this many
	// requests over at least KnownAfter without being part of an incident.
	KnownRequests int           `yaml:"known_requests" json:"known_requests"`
	KnownAfter    time.Duration `yaml:"known_after" json:"known_after"`
}

// Allow lists clients whose traffic never raises risk on its own.
type Allow struct {
	// MonitorUserAgents are substrings of user agents of health monitors:
	// their tiny probes are expected. Case-insensitive.
	MonitorUserAgents []string `yaml:"monitor_user_agents" json:"monitor_user_agents,omitempty"`
	// MonitorCIDRs are monitor networks.
	MonitorCIDRs []string `yaml:"monitor_cidrs" json:"monitor_cidrs,omitempty"`
	// KnownCIDRs are the organisation's own networks: always known, and
	// allowed under step-up.
	KnownCIDRs []string `yaml:"known_cidrs" json:"known_cidrs,omitempty"`
}

// Canary configures the response to decoy keys.
type Canary struct {
	// Action on use of a canary key: "alert" (default: keep the decoy
	// working so the attacker stays visible), "suspend" or "revoke".
	Action string `yaml:"action" json:"action"`
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Policy: Policy{
			AlertAt: 25, StepUpAt: 50, ThrottleAt: 50, SuspendAt: 100, RevokeAt: 0,
			HalfLife: 6 * time.Hour, ActionTTL: 24 * time.Hour, IncidentGap: 24 * time.Hour,
		},
		Learning: Learning{MinRequests: 30, MinAge: 6 * time.Hour, KnownRequests: 3, KnownAfter: 10 * time.Minute},
		Canary:   Canary{Action: "alert"},
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	p := &c.Policy
	setF(&p.AlertAt, d.Policy.AlertAt)
	setF(&p.StepUpAt, d.Policy.StepUpAt)
	setF(&p.ThrottleAt, d.Policy.ThrottleAt)
	setF(&p.SuspendAt, d.Policy.SuspendAt)
	setD(&p.HalfLife, d.Policy.HalfLife)
	setD(&p.ActionTTL, d.Policy.ActionTTL)
	setD(&p.IncidentGap, d.Policy.IncidentGap)
	l := &c.Learning
	if l.MinRequests == 0 {
		l.MinRequests = d.Learning.MinRequests
	}
	if l.KnownRequests == 0 {
		l.KnownRequests = d.Learning.KnownRequests
	}
	setD(&l.MinAge, d.Learning.MinAge)
	setD(&l.KnownAfter, d.Learning.KnownAfter)
	if c.Canary.Action == "" {
		c.Canary.Action = d.Canary.Action
	}
	return c
}

func setF(f *float64, d float64) {
	if *f == 0 {
		*f = d
	}
}

func setD(f *time.Duration, d time.Duration) {
	if *f == 0 {
		*f = d
	}
}

// Validate checks the configuration after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	p := c.Policy
	if p.AlertAt < 0 || p.StepUpAt < p.AlertAt || p.ThrottleAt < p.AlertAt || p.SuspendAt < p.StepUpAt || p.SuspendAt < p.ThrottleAt {
		return errors.New("detect: policy thresholds must rise: alert_at <= step_up_at, throttle_at <= suspend_at")
	}
	if p.RevokeAt != 0 && p.RevokeAt < p.SuspendAt {
		return errors.New("detect: revoke_at must be 0 (off) or at least suspend_at")
	}
	if p.HalfLife < time.Minute || p.ActionTTL < time.Minute {
		return errors.New("detect: half_life and action_ttl must be at least a minute")
	}
	for name, w := range p.Weights {
		if _, ok := signalByName[name]; !ok {
			return fmt.Errorf("detect: policy.weights: unknown signal %q", name)
		}
		if w < 0 || w > 1000 {
			return fmt.Errorf("detect: policy.weights.%s: %v out of range 0-1000", name, w)
		}
	}
	if c.Learning.MinRequests < 0 || c.Learning.KnownRequests < 0 {
		return errors.New("detect: learning counts must not be negative")
	}
	for _, list := range [][]string{c.Allow.MonitorCIDRs, c.Allow.KnownCIDRs} {
		for _, s := range list {
			if _, err := netip.ParsePrefix(s); err != nil {
				return fmt.Errorf("detect: allow: bad CIDR %q: %w", s, err)
			}
		}
	}
	switch c.Canary.Action {
	case "alert", "suspend", "revoke":
	default:
		return fmt.Errorf("detect: canary.action %q: want alert, suspend or revoke", c.Canary.Action)
	}
	return nil
}

// allow is the provisioned form of Allow.
type allow struct {
	monitorUA   []string
	monitorNets []netip.Prefix
	knownNets   []netip.Prefix
}

func newAllow(a Allow) allow {
	var out allow
	for _, s := range a.MonitorUserAgents {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
			out.monitorUA = append(out.monitorUA, s)
		}
	}
	for _, s := range a.MonitorCIDRs {
		if p, err := netip.ParsePrefix(s); err == nil {
			out.monitorNets = append(out.monitorNets, p.Masked())
		}
	}
	for _, s := range a.KnownCIDRs {
		if p, err := netip.ParsePrefix(s); err == nil {
			out.knownNets = append(out.knownNets, p.Masked())
		}
	}
	return out
}

func (a *allow) isMonitor(ua string, ip netip.Addr) bool {
	if len(a.monitorUA) > 0 && ua != "" {
		l := strings.ToLower(ua)
		for _, m := range a.monitorUA {
			if strings.Contains(l, m) {
				return true
			}
		}
	}
	return inAny(a.monitorNets, ip)
}

func (a *allow) isKnownNet(ip netip.Addr) bool { return inAny(a.knownNets, ip) }

func inAny(ps []netip.Prefix, ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap()
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
