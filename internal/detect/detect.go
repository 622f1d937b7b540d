// Package detect finds stolen keys in the stream of request events and
// contains them.
//
// The Detector is an event.Sink. For each event it updates the key's learned
// profile (networks, client fingerprints, models, hour-of-week activity,
// hourly distinct conversations and users, spend, error and guard mix), runs
// the detectors against the profile as it was before the event, adds their
// signals to a per-key risk score that decays with event time, and maps the
// risk to an action through a configurable Policy: alert, throttle, step-up
// (only the key's known networks and clients pass), suspend, revoke.
// Actions are written to the key record through store.Keys, so the
// authorize stage of every instance applies them to the next request.
// Related signals on a key are grouped into one incident.Incident.
//
// The detector runs on event time, never the wall clock, and keeps no
// randomness: the same events in the same order give the same decisions.
// That is what lets `warden replay` backtest it on recorded or simulated
// traffic with the very code that runs in `warden serve`.
//
// See docs/detection.md for the signals, the policy and measured figures.
package detect

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/netip"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/alert"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/incident"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store"
)

// Actions, in increasing strength.
const (
	ActionAlert    = "alert"
	ActionThrottle = "throttle"
	ActionStepUp   = "step_up"
	ActionSuspend  = "suspend"
	ActionRevoke   = "revoke"
)

// Decision is what the detector decided about a key at one event.
type Decision struct {
	Time       time.Time  `json:"ts"`
	KeyID      string     `json:"key_id"`
	KeyOwner   string     `json:"key_owner,omitempty"`
	Severity   string     `json:"severity"`
	Action     string     `json:"action"` // alert, throttle, step_up, suspend, revoke
	Reason     string     `json:"reason"`
	IncidentID string     `json:"incident_id"`
	Risk       float64    `json:"risk"`
	Until      *time.Time `json:"until,omitempty"` // end of a throttle or step-up
	Signals    []Signal   `json:"signals,omitempty"`
}

// Type is "alert" for a decision that only alerts and "action" for one
// that changes the key.
func (d Decision) Type() string {
	if d.Action == ActionAlert {
		return "alert"
	}
	return "action"
}

// Alert converts the decision for the alert sinks; repeated decisions on the
// same incident and action share a dedup key.
func (d Decision) Alert() alert.Alert {
	return alert.Alert{Key: d.IncidentID + "/" + d.Action, TS: d.Time, KeyID: d.KeyID, KeyOwner: d.KeyOwner,
		Severity: d.Severity, Action: d.Action, Reason: d.Reason, IncidentID: d.IncidentID, Risk: d.Risk}
}

// Options connect a Detector to the rest of Warden. Every field is optional.
type Options struct {
	// Keys is where actions are applied. Nil: decisions are made and
	// reported but no key changes.
	Keys store.Keys
	// Store keeps profiles and incidents. Nil: they live in memory only.
	Store store.Detect
	// OnDecision is called after each decision was applied, outside the
	// detector's locks (alert sinks, replay output). Nil: nobody is told.
	OnDecision func(ctx context.Context, d Decision)
	// Logger receives errors of the store. Nil: slog.Default().
	Logger *slog.Logger
	// Pool is where the pooling signals count owners across keys. Nil:
	// in process (NewPool).
	Pool Pool
}

// Detector is the detection engine. It is safe for concurrent use; state is
// sharded by key, so requests on different keys rarely contend.
type Detector struct {
	cfg     Config
	allow   allow
	weights [numKinds]float64
	opt     Options
	log     *slog.Logger
	known   knownRule

	shards [64]shard
	pool   Pool
}

type shard struct {
	mu sync.Mutex
	m  map[string]*profile
}

// New returns a Detector with cfg (zero fields take defaults).
func New(cfg Config, opt Options) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	d := &Detector{cfg: cfg, allow: newAllow(cfg.Allow), opt: opt, log: opt.Logger, pool: opt.Pool}
	if d.pool == nil {
		d.pool = NewPool()
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	for k, def := range signalDefs {
		d.weights[k] = def.weight
		if w, ok := cfg.Policy.Weights[def.name]; ok {
			d.weights[k] = w
		}
	}
	d.known = knownRule{requests: uint32(cfg.Learning.KnownRequests), minutes: uint32(cfg.Learning.KnownAfter / time.Minute)}
	for i := range d.shards {
		d.shards[i].m = make(map[string]*profile)
	}
	return d, nil
}

func (d *Detector) shard(keyID string) *shard {
	return &d.shards[fnv(keyID)%uint64(len(d.shards))]
}

// Handle implements event.Sink. Register it as a sync sink, so that its
// decision holds for the key's next request.
//
// An event without a time (or before 1970) cannot be placed in any window
// and is ignored: the gateway always stamps one, so only bad input has none.
func (d *Detector) Handle(ctx context.Context, e *event.Event) {
	if e == nil || e.Time.Unix() < 0 {
		return
	}
	for _, dec := range d.observe(ctx, e) {
		d.apply(ctx, dec)
	}
}

// pendingDecision carries a decision and a snapshot of its incident out of
// the lock.
type pendingDecision struct {
	Decision
	inc *incident.Incident
}

// profileLocked returns the key's profile, loading it from the store the
// first time. The shard lock must be held.
func (d *Detector) profileLocked(ctx context.Context, sh *shard, keyID string) *profile {
	if p := sh.m[keyID]; p != nil {
		return p
	}
	var p *profile
	if d.opt.Store != nil {
		sp, err := d.opt.Store.ProfileOf(ctx, keyID)
		switch {
		case err == nil:
			if p, err = decodeProfile(sp.Data); err != nil {
				d.log.Warn("detect: discarding stored profile", "key_id", keyID, "err", err)
				p = nil
			}
		case !errors.Is(err, store.ErrNotFound):
			d.log.Warn("detect: loading profile", "key_id", keyID, "err", err)
		}
	}
	if p == nil {
		p = &profile{KeyID: keyID}
		d.inheritLocked(ctx, sh, p)
	}
	sh.m[keyID] = p
	return p
}

// observe updates the key's state with e and returns the decisions to apply.
func (d *Detector) observe(ctx context.Context, e *event.Event) []pendingDecision {
	if e.KeyID == "" {
		return nil
	}
	sh := d.shard(e.KeyID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	p := d.profileLocked(ctx, sh, e.KeyID)
	now := e.Time.UnixNano()
	if p.N == 0 && p.First == 0 {
		p.First = now
	}
	if e.KeyOwner != "" {
		p.Owner = e.KeyOwner
	}
	if now > p.Last {
		p.Last = now
	}
	p.dirty = true
	d.loadIncidentLocked(ctx, p)
	d.maybeCloseLocked(p, now)

	refused := e.Status >= 400 && (e.Refusal == "detector" || e.Refusal == "auth")
	if p.inc != nil {
		p.inc.Requests++
		p.inc.SpendUSD += e.CostUSD
		if e.Status >= 400 && e.Refusal != "" {
			p.inc.Refused++
		}
		if now > p.inc.UpdatedAt.UnixNano() {
			p.inc.UpdatedAt = e.Time
		}
	}
	if refused && e.KeyKind != string(keys.KindCanary) {
		// Contained already: evidence for the incident, but neither
		// learning nor more risk (which would only punish the owner).
		// While refused clients keep trying, the containment is extended
		// before it runs out, so it does not lapse under a patient attacker.
		ttl := d.cfg.Policy.ActionTTL
		if e.Refusal == "detector" && p.inc != nil && p.Level == levelContain && now < p.ActionUntil && p.ActionUntil-now < int64(ttl/4) {
			until := e.Time.Add(ttl)
			p.ActionUntil = until.UnixNano()
			dec := Decision{Time: e.Time, KeyID: p.KeyID, KeyOwner: p.Owner, Severity: incident.SevHigh, Action: p.inc.Action,
				IncidentID: p.inc.ID, Until: &until, Reason: p.inc.Action + " extended: refused clients keep trying"}
			dec.Risk = math.Round(d.riskAtLocked(p, now)*10) / 10
			p.inc.AddEntry(incident.Entry{TS: e.Time, Kind: "action", Name: dec.Action, Severity: dec.Severity, Reason: dec.Reason, Risk: dec.Risk})
			return []pendingDecision{{Decision: dec, inc: cloneIncident(p.inc)}}
		}
		return nil
	}

	ip, _ := netip.ParseAddr(e.ClientIP)
	c := client{ip: ip, net: netOf(ip)}
	c.netH = netHash(c.net)
	fp := e.Fingerprint
	if fp == "" {
		fp = FingerprintOf(e.Client)
	}
	c.fpH = fnv(fp)
	c.fp = fp

	if p.firstClient() && !p.trustChecked {
		// Warm-up: a new key's first client is its owner, unless the key
		// was reported leaked before it was ever used (or is a decoy).
		// Asked once per key and process, and never for refused requests,
		// so hammering a revoked key costs no store queries.
		p.TrustFirst = e.KeyKind != string(keys.KindCanary) && !d.reportedLeaked(ctx, e.KeyID)
		p.trustChecked = true
	}
	p.roll(now)
	var sigs []Signal
	if e.KeyKind == string(keys.KindCanary) {
		sigs = append(sigs, d.signal(sigCanary, e.Time, d.weights[sigCanary],
			"decoy key used from "+e.ClientIP, "network", c.net.String(), "user_agent", e.Client.UserAgent))
	} else {
		sigs = d.detect(p, e, &c, now, sigs)
	}
	d.learn(p, e, &c, now, len(sigs) > 0)
	if len(sigs) == 0 && p.inc == nil {
		return nil
	}
	return d.score(p, e, &c, now, sigs)
}

// client is what identifies the sender of one event.
type client struct {
	ip         netip.Addr
	net        netip.Prefix
	netH, fpH  uint64
	fp         string
	netBefore  entry
	fpBefore   entry
	knownNet   bool
	knownFP    bool
	monitoring bool
}

func (d *Detector) signal(k kind, t time.Time, w float64, reason string, kv ...string) Signal {
	s := Signal{TS: t, Name: signalDefs[k].name, Severity: signalDefs[k].severity, Weight: w, Reason: reason, kind: k}
	if len(kv) > 0 {
		s.Evidence = make(map[string]string, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				s.Evidence[kv[i]] = kv[i+1]
			}
		}
	}
	return s
}

// established reports whether the key has enough history for "new" to mean
// something (cold start is over).
func (d *Detector) established(p *profile) bool {
	return int(p.N) >= d.cfg.Learning.MinRequests && p.age() >= d.cfg.Learning.MinAge
}
