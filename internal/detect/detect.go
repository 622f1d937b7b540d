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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"strings"
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

// minAbuseToContain is how much of the risk must come from signals other
// than unfamiliarity (new_client, off_hours) before a key is contained.
const minAbuseToContain = 15

// levels of response; a profile only moves up within an incident.
const (
	levelNone = iota
	levelAlert
	levelContain // throttle or step-up
	levelSuspend
	levelRevoke
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
	pool   pool
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
	d := &Detector{cfg: cfg, allow: newAllow(cfg.Allow), opt: opt, log: opt.Logger}
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
func (d *Detector) Handle(ctx context.Context, e *event.Event) {
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

// detect runs the detectors on e against the profile before e.
func (d *Detector) detect(p *profile, e *event.Event, c *client, now int64, sigs []Signal) []Signal {
	t := e.Time
	est := d.established(p)
	if ne := p.Nets.find(c.netH); ne != nil {
		c.netBefore = *ne
	}
	if fe := p.FPs.find(c.fpH); fe != nil {
		c.fpBefore = *fe
	}
	c.knownNet = d.known.known(c.netBefore) || d.allow.isKnownNet(c.ip)
	c.knownFP = d.known.known(c.fpBefore)
	c.monitoring = d.allow.isMonitor(e.Client.UserAgent, c.ip)
	knownClient := c.knownNet && c.knownFP
	ev := func(kv ...string) []string {
		return append([]string{"network", c.net.String(), "fingerprint", c.fp, "user_agent", e.Client.UserAgent}, kv...)
	}

	// Attacker phrases: near-zero false positives, no baseline needed.
	for _, ph := range e.Features.Phrases {
		switch ph {
		case "de3u_verbatim":
			sigs = append(sigs, d.signal(sigPhrase, t, d.weights[sigPhrase], "de3u \"VERBATIM\" revised-prompt wrapper in an image prompt", ev("phrase", ph)...))
		case "obey_probe":
			sigs = append(sigs, d.signal(sigPhrase, t, d.weights[sigPhrase], "\"Obey\" probe for an injected safety prompt", ev("phrase", ph)...))
		}
	}

	// Probe shapes from a client not known on the key.
	if pk, pw, pname := probeShape(e); pk != 0 && !knownClient && !c.monitoring {
		w := pw * d.weights[sigProbe] / signalDefs[sigProbe].weight
		if now-p.ProbeAt > int64(time.Hour) {
			p.ProbeKinds = 0
		}
		if p.ProbeKinds != 0 && p.ProbeKinds&pk == 0 {
			w += d.weights[sigProbe] // a second kind of probe: a key checker at work
		}
		p.ProbeKinds |= pk
		p.ProbeAt = now
		sigs = append(sigs, d.signal(sigProbe, t, w, pname+" from a client not known on this key", ev("probe", pname, "status", strconv.Itoa(e.Status), "error_code", e.ErrorCode)...))
		if pk&(probeTiny|probeEmpty) != 0 && p.LastProbe != 0 {
			if gap := time.Duration(now - p.LastProbe); gap >= 40*time.Minute && gap <= 80*time.Minute {
				sigs = append(sigs, d.signal(sigHourlyProbe, t, d.weights[sigHourlyProbe], "tiny probes from unknown clients about an hour apart", ev("gap", gap.Round(time.Minute).String())...))
			}
		}
		p.LastProbe = now
	}

	if est && !c.monitoring {
		if !c.knownNet && !c.knownFP {
			w, why := d.weights[sigNewClient], "a new network and a new client fingerprint on this key"
			if c.netBefore.N > 0 || c.fpBefore.N > 0 {
				w, why = w/3, "a network and client fingerprint not yet known on this key"
			}
			sigs = append(sigs, d.signal(sigNewClient, t, w, why, ev()...))
		}
		noUA := e.Client.UserAgent == ""
		switch {
		case noUA && !e.Client.SDKHeaders && float64(p.SDK) >= 0.95*float64(p.N):
			sigs = append(sigs, d.signal(sigStripped, t, d.weights[sigStripped], "no user agent and no SDK headers on a key whose clients always sent SDK headers",
				ev("headers", strings.Join(e.Client.HeaderNames, ","))...))
		case noUA && float64(p.UA) >= 0.95*float64(p.N):
			sigs = append(sigs, d.signal(sigStripped, t, d.weights[sigStripped]*2/3, "no user agent on a key whose clients always sent one",
				ev("headers", strings.Join(e.Client.HeaderNames, ","))...))
		}
		if filledDefaults(&e.Features) && float64(p.Filled) < 0.02*float64(p.N) {
			sigs = append(sigs, d.signal(sigProxyDefaults, t, d.weights[sigProxyDefaults], "temperature 1, top_p 1 and zero penalties all filled in, never seen on this key", ev()...))
		}
		if e.Features.ImageQuality == "hd" && p.HD == 0 {
			sigs = append(sigs, d.signal(sigModelMix, t, d.weights[sigModelMix], "HD images on a key that never asked for them", ev("model", e.Model, "size", e.Features.ImageSize)...))
		} else if e.Model != "" && p.Models.find(fnv(e.Model)) == nil && p.CostN > 10 && e.CostUSD > 0.05 && e.CostUSD > 5*p.CostS/float64(p.CostN) {
			sigs = append(sigs, d.signal(sigModelMix, t, d.weights[sigModelMix], "an expensive model the key never used", ev("model", e.Model, "cost_usd", fmt.Sprintf("%.4f", e.CostUSD))...))
		}
		if flagged(e) && p.Streak >= 2 && float64(p.Flags) < 0.2*float64(p.N) {
			sigs = append(sigs, d.signal(sigContent, t, d.weights[sigContent], fmt.Sprintf("%d guard or content-filter rejections in a row on a key that rarely has them", p.Streak+1), ev("category", flagCategory(e))...))
		}
	}

	// Retries that ignore Retry-After: same conversation, under 5 s, before the advertised time.
	if p.Last429 != 0 && p.RetryAfter > 0 {
		dt := now - p.Last429
		if dt >= 0 && dt < int64(5*time.Second) && dt < p.RetryAfter && fnv(e.Features.ConvRoot) == p.Last429Root {
			sigs = append(sigs, d.signal(sigRetryIgnored, t, d.weights[sigRetryIgnored],
				fmt.Sprintf("retry %v after a 429 that asked for %v", time.Duration(dt).Round(time.Millisecond), time.Duration(p.RetryAfter)), ev()...))
		}
	}

	// Baselines against the key's own history: only after a full day.
	day := p.age() >= 24*time.Hour && est
	if day && !knownClient && !c.monitoring {
		if p.restHours()&(1<<hourOfDay(now)) == 0 {
			sigs = append(sigs, d.signal(sigOffHours, t, d.weights[sigOffHours], "an unknown client at an hour of the day this key is never used", ev("hour_utc", strconv.Itoa(hourOfDay(now)))...))
		}
	}
	if e.Features.ConvRoot != "" {
		if p.Roots.add(fnv(e.Features.ConvRoot)) && day && !p.fired(sigRootExplosion) {
			if n := p.Roots.count(); n > 4*p.RootPeak+20 {
				p.Fired |= 1 << sigRootExplosion
				sigs = append(sigs, d.signal(sigRootExplosion, t, d.weights[sigRootExplosion], fmt.Sprintf("%.0f distinct conversations this hour against a peak of %.0f", n, p.RootPeak), ev()...))
			}
		}
	}
	if e.Features.User != "" {
		if p.Users.add(fnv(e.Features.User)) && day && !p.fired(sigUserExplosion) {
			if n := p.Users.count(); n > 4*p.UserPeak+20 {
				p.Fired |= 1 << sigUserExplosion
				sigs = append(sigs, d.signal(sigUserExplosion, t, d.weights[sigUserExplosion], fmt.Sprintf("%.0f distinct users this hour against a peak of %.0f", n, p.UserPeak), ev()...))
			}
		}
	}
	if day && !p.fired(sigSpend) {
		if cost := p.HourCost + e.CostUSD; cost > 4*p.CostPeak+5 {
			p.Fired |= 1 << sigSpend
			sigs = append(sigs, d.signal(sigSpend, t, d.weights[sigSpend], fmt.Sprintf("$%.2f this hour against a peak of $%.2f", cost, p.CostPeak), ev()...))
		}
	}
	if p.age() >= 72*time.Hour && !p.fired(sigFlatLoad) {
		if bits.OnesCount32(p.Active24|1) >= 22 && bits.OnesCount32(p.baseHours(2)) <= 16 && p.baseHours(2) != 0 {
			p.Fired |= 1 << sigFlatLoad
			sigs = append(sigs, d.signal(sigFlatLoad, t, d.weights[sigFlatLoad], "active in 22 or more of the last 24 hours on a key that used to rest", ev()...))
		}
	}

	// Pooling: the same conversations, or the same client, on keys of
	// different owners.
	owner := p.Owner
	if owner == "" {
		owner = "key:" + p.KeyID
	}
	ownerH := fnv(owner)
	if e.Features.ConvRoot != "" && e.Features.PromptChars >= 32 {
		rh := fnv(e.Features.ConvRoot)
		if d.pool.touch(rh^0x9e3779b97f4a7c15, ownerH, now, int64(time.Hour)) >= 2 {
			if !slices.Contains(p.Shared[:], rh) {
				copy(p.Shared[1:], p.Shared[:3])
				p.Shared[0] = rh
			}
			if p.Shared[2] != 0 { // three or more distinct shared conversations this hour
				sigs = append(sigs, d.signal(sigPoolRoots, t, d.weights[sigPoolRoots], "conversations shared with keys of other owners in the last hour", ev("conv_root", e.Features.ConvRoot)...))
			}
		}
	}
	if c.ip.IsValid() && !knownClient && est {
		// Exact address, not the /24: many customers share cloud networks.
		ipb, _ := c.ip.Unmap().MarshalBinary()
		if n := d.pool.touch(fnv(string(ipb))*31+c.fpH, ownerH, now, int64(time.Hour)); n >= 3 {
			sigs = append(sigs, d.signal(sigPoolClient, t, d.weights[sigPoolClient], fmt.Sprintf("the same client used keys of %d owners in the last hour", n), ev()...))
		}
	}
	return sigs
}

func (p *profile) fired(k kind) bool { return p.Fired&(1<<k) != 0 }

// Probe kinds (bits of profile.ProbeKinds).
const (
	probeEmpty uint16 = 1 << iota
	probeTiny
	probeNegative
	probeList
	probeContext
	probeImageDeployment
)

// probeShape classifies e as one of the key-checker probes of the threat
// model (steps 2-5) and returns its kind, weight and name.
func probeShape(e *event.Event) (uint16, float64, string) {
	f := &e.Features
	path, _, _ := strings.Cut(e.Path, "?")
	chat := strings.Contains(e.Endpoint, "chat") || e.Endpoint == "completions" || e.Endpoint == "responses" ||
		strings.HasSuffix(path, "/completions") || strings.HasSuffix(path, "/responses")
	list := e.Endpoint == "models" || e.Endpoint == "deployments" || strings.HasSuffix(e.Endpoint, ".list") ||
		strings.HasSuffix(path, "/deployments") || strings.HasSuffix(path, "/models")
	switch {
	case e.ErrorCode == "OperationNotSupported":
		return probeImageDeployment, 25, "chat call to an image deployment (OperationNotSupported)"
	case f.MaxTokens < 0:
		return probeNegative, 25, "negative max_tokens (validation-error probe)"
	case e.ErrorCode == "context_length_exceeded" || (f.MaxTokens >= 8000 && f.PromptChars < 64):
		return probeContext, 25, "huge max_tokens on a tiny prompt (context-length probe)"
	case e.Method == "GET" && list:
		return probeList, 12, "deployment or model listing"
	case chat && f.EmptyPrompt:
		return probeEmpty, 15, "empty prompt (validity check)"
	case chat && f.PromptChars <= 4 && f.MaxTokens >= 0 && f.MaxTokens <= 5:
		return probeTiny, 5, "tiny prompt with a few tokens (validity check)"
	}
	return 0, 0, ""
}

func filledDefaults(f *event.Features) bool {
	return f.Temperature != nil && *f.Temperature == 1 && f.TopP != nil && *f.TopP == 1 &&
		f.PresencePen != nil && *f.PresencePen == 0 && f.FrequencyPen != nil && *f.FrequencyPen == 0
}

func flagged(e *event.Event) bool {
	switch e.ErrorCode {
	case "content_filter", "content_policy_violation", "ResponsibleAIPolicyViolation":
		return true
	}
	// A streak is made of rejections (threat model: "a streak of
	// content-filter rejections"): guard blocks, and flags only when a
	// rule matched. A model-only flag is too weak: ordinary prompts that
	// merely share vocabulary with attacks get flagged now and then.
	for _, v := range e.Guard {
		if v.Action == "block" || (v.Action == "flag" && v.Rule != "") {
			return true
		}
	}
	return false
}

func flagCategory(e *event.Event) string {
	for _, v := range e.Guard {
		if v.Category != "" {
			return v.Category
		}
	}
	return e.ErrorCode
}

func hourOfDay(ns int64) int { return int((ns / int64(time.Hour)) % 24) }

// restHours is the union of the active hours of the days before today:
// bits left zero are hours the key rests.
func (p *profile) restHours() uint32 { return p.baseHours(1) }

// baseHours is the union of active hours over the stored days at least
// skip days before the current one.
func (p *profile) baseHours(skip int64) uint32 {
	var m uint32
	for k := skip; k < 7; k++ {
		if p.Day-k < 0 {
			break
		}
		m |= p.DayMask[(p.Day-k)%7]
	}
	return m
}

// roll ends the current hour (and day) if now is past it, folding its
// counts into the baselines. Hours inside an incident are not learned.
func (p *profile) roll(now int64) {
	h := now / int64(time.Hour)
	if p.Hour == 0 {
		p.Hour = h
		p.Day = h / 24
	}
	if h > p.Hour {
		gap := h - p.Hour
		if p.Level == levelNone {
			decay := math.Pow(0.995, float64(gap))
			p.RootPeak = max(p.RootPeak*decay, p.Roots.count())
			p.UserPeak = max(p.UserPeak*decay, p.Users.count())
			p.CostPeak = max(p.CostPeak*decay, p.HourCost)
		}
		if gap >= 32 {
			p.Active24 = 0
		} else {
			p.Active24 <<= uint(gap)
		}
		p.Roots, p.Users, p.Shared = sketch{}, sketch{}, [4]uint64{}
		p.HourReq, p.HourCost, p.Fired = 0, 0, 0
		p.Hour = h
	}
	if day := h / 24; day > p.Day {
		for d := p.Day + 1; d <= day && d <= p.Day+7; d++ {
			p.DayMask[d%7] = 0
		}
		p.Day = day
	}
}

// learn adds e to the profile. Clients that raise signals during an
// incident that led to containment are tainted: they never become known, so an attacker cannot wait
// his way into the step-up allow-list.
func (d *Detector) learn(p *profile, e *event.Event, c *client, now int64, suspicious bool) {
	m := minutes(now)
	p.N++
	if e.Client.SDKHeaders {
		p.SDK++
	}
	if e.Client.UserAgent != "" {
		p.UA++
	}
	if filledDefaults(&e.Features) {
		p.Filled++
	}
	if e.Features.ImageQuality == "hd" {
		p.HD++
	}
	if flagged(e) {
		p.Flags++
		p.Streak++
	} else {
		p.Streak = 0
	}
	if e.CostUSD > 0 {
		p.CostN++
		p.CostS += e.CostUSD
	}
	if e.Status == 429 {
		p.Last429, p.RetryAfter, p.Last429Root = now, int64(e.RetryAfter), fnv(e.Features.ConvRoot)
	}
	if c.netH != 0 {
		p.Nets.add(c.netH, m, maxNets, d.known)
	}
	p.FPs.add(c.fpH, m, maxFPs, d.known)
	if e.Model != "" {
		p.Models.add(fnv(e.Model), m, maxModels, d.known)
	}
	if suspicious && p.inc != nil && p.inc.Action != "" && p.inc.Action != ActionAlert {
		if ne := p.Nets.find(c.netH); ne != nil && !d.known.known(*ne) {
			ne.Taint = true
		}
		if fe := p.FPs.find(c.fpH); fe != nil && !d.known.known(*fe) {
			fe.Taint = true
		}
	}
	how := int((now/int64(time.Hour) + 72) % 168) // 1970-01-01 was a Thursday: +72 h makes Monday 0
	if p.Week[how] < math.MaxUint16 {
		p.Week[how]++
	}
	p.HourReq++
	p.HourCost += e.CostUSD
	p.Active24 |= 1
	p.DayMask[p.Day%7] |= 1 << hourOfDay(now)
}

// score adds the signals to the key's risk and decides. Shard lock held.
func (d *Detector) score(p *profile, e *event.Event, c *client, now int64, sigs []Signal) []pendingDecision {
	if dt := now - p.ScoreAt; dt > 0 && p.ScoreAt != 0 {
		f := math.Exp2(-float64(dt) / float64(d.cfg.Policy.HalfLife))
		for k := range p.Score {
			p.Score[k] *= f
		}
	}
	if now > p.ScoreAt {
		p.ScoreAt = now
	}
	for _, s := range sigs {
		p.Score[s.kind] = min(signalDefs[s.kind].cap, p.Score[s.kind]+s.Weight)
	}
	risk, kinds, strong, abuse := 0.0, 0, false, 0.0
	for k, v := range p.Score {
		risk += v
		if kind(k) != sigNewClient && kind(k) != sigOffHours {
			abuse += v
		}
		if v >= 10 {
			kinds++
		}
		if signalDefs[k].strong && v >= signalDefs[k].weight*0.9 && v > 0 {
			strong = true
		}
	}

	if p.inc != nil && len(sigs) > 0 {
		for _, s := range sigs {
			p.inc.AddEntry(entryOf(s, risk))
		}
		p.inc.AddSample(e)
		d.addEvidence(p.inc, e, c)
		p.inc.Risk = risk
	}
	if len(sigs) > 0 && p.inc == nil {
		p.pending = append(p.pending, sigs...)
		if len(p.pending) > 8 {
			p.pending = slices.Delete(p.pending, 0, len(p.pending)-8)
		}
	}

	pol := d.cfg.Policy
	level := levelNone
	if risk >= pol.AlertAt {
		level = levelAlert
	}
	canContain := d.hasKnownClients(p)
	containAt := pol.ThrottleAt
	if canContain {
		containAt = pol.StepUpAt
	}
	// Unfamiliarity alone (a new client, at an unusual hour) is what a new
	// office, a new region or a new batch job looks like: it may alert, but
	// containment needs evidence of abuse besides it.
	if risk >= containAt && abuse >= minAbuseToContain {
		level = levelContain
	}
	if risk >= pol.SuspendAt && abuse >= minAbuseToContain && (kinds >= 2 || strong) {
		level = levelSuspend
	}
	if pol.RevokeAt > 0 && risk >= pol.RevokeAt && (kinds >= 2 || strong) {
		level = levelRevoke
	}
	action := ""
	canary := e.KeyKind == string(keys.KindCanary)
	if canary {
		level, action = levelAlert, d.cfg.Canary.Action
		switch action {
		case ActionSuspend:
			level = levelSuspend
		case ActionRevoke:
			level = levelRevoke
		}
		if p.Level > levelNone {
			level = levelNone // one decision per canary incident
		}
	}
	if p.Level == levelContain && now > p.ActionUntil {
		p.Level = levelAlert // the containment expired; it may be renewed
	}
	if level <= p.Level || len(sigs) == 0 {
		return nil
	}
	if action == "" {
		action = [...]string{"", ActionAlert, ActionThrottle, ActionSuspend, ActionRevoke}[level]
		if level == levelContain && canContain {
			action = ActionStepUp
		}
	}
	if p.inc == nil {
		d.openIncidentLocked(p, e, c, risk)
	}
	p.Level = level
	dec := Decision{
		Time: e.Time, KeyID: p.KeyID, KeyOwner: p.Owner, Action: action, IncidentID: p.inc.ID,
		Risk: math.Round(risk*10) / 10, Signals: sigs,
	}
	switch {
	case canary || level >= levelSuspend:
		dec.Severity = incident.SevCritical
	case level == levelContain:
		dec.Severity = incident.SevHigh
	default:
		dec.Severity = incident.SevMedium
	}
	if level == levelContain {
		until := e.Time.Add(pol.ActionTTL)
		dec.Until = &until
		p.ActionUntil = until.UnixNano()
	}
	dec.Reason = d.reason(p, action)
	p.inc.AddEntry(incident.Entry{TS: e.Time, Kind: "action", Name: action, Severity: dec.Severity, Reason: dec.Reason, Risk: dec.Risk})
	if incident.SeverityRank(dec.Severity) > incident.SeverityRank(p.inc.Severity) {
		p.inc.Severity = dec.Severity
	}
	p.inc.Action = action
	if p.inc.Title == "" || level > levelAlert {
		p.inc.Title = dec.Reason
	}
	return []pendingDecision{{Decision: dec, inc: cloneIncident(p.inc)}}
}

// reason names the signals that carry the risk, strongest first.
func (d *Detector) reason(p *profile, action string) string {
	type ks struct {
		k kind
		v float64
	}
	var top []ks
	for k, v := range p.Score {
		if v >= 1 {
			top = append(top, ks{kind(k), v})
		}
	}
	slices.SortStableFunc(top, func(a, b ks) int {
		switch {
		case a.v > b.v:
			return -1
		case a.v < b.v:
			return 1
		}
		return 0
	})
	parts := make([]string, 0, len(top))
	for _, x := range top {
		parts = append(parts, fmt.Sprintf("%s (%.0f)", signalDefs[x.k].name, x.v))
	}
	return action + ": " + strings.Join(parts, ", ")
}

// hasKnownClients reports whether step-up would let anyone through.
func (d *Detector) hasKnownClients(p *profile) bool {
	net := len(d.allow.knownNets) > 0
	for _, e := range p.Nets.E {
		net = net || d.known.known(e)
	}
	if !net {
		return false
	}
	for _, e := range p.FPs.E {
		if d.known.known(e) {
			return true
		}
	}
	return false
}

// entryOf makes a timeline entry of a signal. The client's network,
// fingerprint and user agent are left to the incident's evidence lists, so
// a long timeline does not repeat them.
func entryOf(s Signal, risk float64) incident.Entry {
	var ev map[string]string
	for k, v := range s.Evidence {
		switch k {
		case "network", "fingerprint", "user_agent":
			continue
		}
		if ev == nil {
			ev = make(map[string]string, 2)
		}
		ev[k] = v
	}
	return incident.Entry{TS: s.TS, Kind: "signal", Name: s.Name, Severity: s.Severity, Reason: s.Reason,
		Weight: math.Round(s.Weight*10) / 10, Risk: math.Round(risk*10) / 10, Evidence: ev}
}

func (d *Detector) addEvidence(in *incident.Incident, e *event.Event, c *client) {
	if c.net.IsValid() {
		in.Evidence.Networks = incident.AddValue(in.Evidence.Networks, c.net.String())
	}
	in.Evidence.Fingerprints = incident.AddValue(in.Evidence.Fingerprints, c.fp)
	ua := e.Client.UserAgent
	if ua == "" {
		ua = "(none)"
	}
	in.Evidence.UserAgents = incident.AddValue(in.Evidence.UserAgents, ua)
}

// openIncidentLocked starts an incident on p with the recent signals as its
// lead-up. Its id is derived from the key and event time, so replays give
// the same ids.
func (d *Detector) openIncidentLocked(p *profile, e *event.Event, c *client, risk float64) {
	sum := sha256.Sum256([]byte(p.KeyID + "\x00" + strconv.FormatInt(e.Time.UnixNano(), 10)))
	in := &incident.Incident{
		ID: "inc_" + hex.EncodeToString(sum[:8]), KeyID: p.KeyID, KeyOwner: p.Owner, KeyKind: e.KeyKind,
		Status: incident.StatusOpen, Severity: incident.SevInfo, OpenedAt: e.Time, UpdatedAt: e.Time,
		Risk: risk, Requests: 1, SpendUSD: e.CostUSD,
	}
	if in.KeyKind == "" {
		in.KeyKind = string(keys.KindStandard)
	}
	gap := d.cfg.Policy.IncidentGap
	for _, s := range p.pending {
		if e.Time.Sub(s.TS) <= gap {
			in.AddEntry(entryOf(s, 0))
		}
	}
	p.pending = nil
	in.AddSample(e)
	d.addEvidence(in, e, c)
	p.inc, p.IncidentID = in, in.ID
}

// loadIncidentLocked restores the open incident of a profile loaded from
// the store.
func (d *Detector) loadIncidentLocked(ctx context.Context, p *profile) {
	if p.IncidentID == "" || p.inc != nil {
		return
	}
	if d.opt.Store != nil {
		if in, err := d.opt.Store.IncidentByID(ctx, p.IncidentID); err == nil && in.Status == incident.StatusOpen {
			p.inc = in
			return
		}
	}
	p.IncidentID, p.Level = "", levelNone
}

// maybeCloseLocked ends the key's incident (for the detector: it stays open
// for operators) after a quiet gap with low risk and no active containment.
func (d *Detector) maybeCloseLocked(p *profile, now int64) {
	if p.inc == nil || now < p.ActionUntil {
		return
	}
	if time.Duration(now-p.inc.UpdatedAt.UnixNano()) < d.cfg.Policy.IncidentGap || p.Level >= levelSuspend {
		return
	}
	if d.riskAtLocked(p, now) < d.cfg.Policy.AlertAt/2 {
		p.inc, p.IncidentID, p.Level = nil, "", levelNone
	}
}

// riskAtLocked is the key's risk decayed to now.
func (d *Detector) riskAtLocked(p *profile, now int64) float64 {
	f := 1.0
	if dt := now - p.ScoreAt; dt > 0 {
		f = math.Exp2(-float64(dt) / float64(d.cfg.Policy.HalfLife))
	}
	r := 0.0
	for _, v := range p.Score {
		r += v * f
	}
	return r
}

func cloneIncident(in *incident.Incident) *incident.Incident {
	b, err := json.Marshal(in)
	if err != nil {
		return nil
	}
	c := new(incident.Incident)
	if json.Unmarshal(b, c) != nil {
		return nil
	}
	return c
}

// apply writes a decision to the key and incident stores, then reports it.
func (d *Detector) apply(ctx context.Context, pd pendingDecision) {
	dec := pd.Decision
	if d.opt.Keys != nil && dec.Action != ActionAlert {
		_, err := d.opt.Keys.UpdateKey(ctx, dec.KeyID, func(k *keys.Key) error {
			at := dec.Time
			switch dec.Action {
			case ActionThrottle, ActionStepUp:
				if k.Status != keys.StatusActive {
					return errUnchanged
				}
				k.Action, k.ActionReason, k.ActionUntil = keys.Action(dec.Action), dec.Reason, dec.Until
			case ActionSuspend:
				if k.Status != keys.StatusActive {
					return errUnchanged
				}
				k.Status, k.StatusReason, k.StatusBy, k.StatusAt = keys.StatusSuspended, dec.Reason, "detector", &at
			case ActionRevoke:
				if k.Status == keys.StatusRevoked {
					return errUnchanged
				}
				k.Status, k.StatusReason, k.StatusBy, k.StatusAt = keys.StatusRevoked, dec.Reason, "detector", &at
			}
			return nil
		})
		if err != nil && !errors.Is(err, errUnchanged) {
			d.log.Error("detect: applying action to key", "key_id", dec.KeyID, "action", dec.Action, "err", err)
		}
	}
	if d.opt.Store != nil && pd.inc != nil {
		err := d.opt.Store.PutIncident(ctx, pd.inc)
		switch {
		case errors.Is(err, store.ErrConflict):
			d.forgetIncident(pd.inc.KeyID, pd.inc.ID)
		case err != nil:
			d.log.Error("detect: saving incident", "incident_id", pd.inc.ID, "err", err)
		}
	}
	if d.opt.OnDecision != nil {
		d.opt.OnDecision(ctx, dec)
	}
}

var errUnchanged = errors.New("detect: key already contained")

// forgetIncident drops the key's in-memory incident after an operator
// resolved it elsewhere (the CLI on the data directory): the next signal
// opens a fresh one.
func (d *Detector) forgetIncident(keyID, id string) {
	sh := d.shard(keyID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if p := sh.m[keyID]; p != nil && p.IncidentID == id {
		p.inc, p.IncidentID, p.Level, p.Score, p.pending = nil, "", levelNone, [numKinds]float64{}, nil
	}
}

// StepUpAllows reports whether a request from clientIP with the given client
// fingerprint may use a key under step-up: only networks and fingerprints
// known on the key (or networks in allow.known_cidrs) pass. The gateway
// calls it for keys whose Action is step_up.
func (d *Detector) StepUpAllows(keyID, clientIP, fingerprint string) bool {
	ip, _ := netip.ParseAddr(clientIP)
	sh := d.shard(keyID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	// An instance that never served the key loads its profile from the
	// store (saved by whichever instance learned it), so the owner's known
	// clients pass here too.
	p := d.profileLocked(context.Background(), sh, keyID)
	netOK := d.allow.isKnownNet(ip)
	if !netOK {
		if e := p.Nets.find(netHash(netOf(ip))); e != nil {
			netOK = d.known.known(*e)
		}
	}
	if !netOK {
		return false
	}
	e := p.FPs.find(fnv(fingerprint))
	return e != nil && d.known.known(*e)
}

// AllowsStepUp has the signature of gateway.Options.StepUp: it is
// StepUpAllows for a key record and a parsed address.
func (d *Detector) AllowsStepUp(k *keys.Key, addr netip.Addr, fingerprint string) bool {
	return d.StepUpAllows(k.ID, addr.String(), fingerprint)
}

// Risk returns the current risk of a key at time now, for status displays.
func (d *Detector) Risk(keyID string, now time.Time) float64 {
	sh := d.shard(keyID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	p := sh.m[keyID]
	if p == nil {
		return 0
	}
	return d.riskAtLocked(p, now.UnixNano())
}

// Flush writes changed profiles and open incidents to the store. Call it
// periodically (see Run) and before exit.
func (d *Detector) Flush(ctx context.Context) error {
	if d.opt.Store == nil {
		return nil
	}
	var errs []error
	for i := range d.shards {
		sh := &d.shards[i]
		var (
			ps   []store.Profile
			incs []*incident.Incident
		)
		sh.mu.Lock()
		for _, p := range sh.m {
			if !p.dirty {
				continue
			}
			b, err := p.encode()
			if err != nil {
				errs = append(errs, err)
				continue
			}
			ps = append(ps, store.Profile{KeyID: p.KeyID, Data: b, UpdatedAt: time.Unix(0, p.Last).UTC()})
			if p.inc != nil {
				incs = append(incs, cloneIncident(p.inc))
			}
			p.dirty = false
		}
		sh.mu.Unlock()
		slices.SortFunc(ps, func(a, b store.Profile) int { return strings.Compare(a.KeyID, b.KeyID) })
		if err := d.opt.Store.PutProfiles(ctx, ps); err != nil {
			errs = append(errs, err)
		}
		for _, in := range incs {
			if in == nil {
				continue
			}
			err := d.opt.Store.PutIncident(ctx, in)
			switch {
			case errors.Is(err, store.ErrConflict):
				d.forgetIncident(in.KeyID, in.ID)
			case err != nil:
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Run flushes every interval until ctx ends, then once more.
func (d *Detector) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := d.Flush(context.WithoutCancel(ctx)); err != nil {
				d.log.Error("detect: final flush", "err", err)
			}
			return
		case <-t.C:
			if err := d.Flush(ctx); err != nil {
				d.log.Error("detect: flush", "err", err)
			}
		}
	}
}

// Resolve closes an incident. The key's risk is reset, so the detector
// starts afresh; with restore, containment the detector put on the key is
// lifted too (a suspension by anyone else stays).
func (d *Detector) Resolve(ctx context.Context, id, by, note string, restore bool, now time.Time) (*incident.Incident, error) {
	in, err := d.incidentByID(ctx, id)
	if err != nil {
		return nil, err
	}
	sh := d.shard(in.KeyID)
	sh.mu.Lock()
	if p := sh.m[in.KeyID]; p != nil && p.IncidentID == id {
		if p.inc != nil {
			in = cloneIncident(p.inc)
		}
		p.inc, p.IncidentID, p.Level, p.Score, p.ActionUntil, p.pending = nil, "", levelNone, [numKinds]float64{}, 0, nil
		p.dirty = true
	}
	sh.mu.Unlock()
	if in.Status == incident.StatusResolved {
		return in, nil
	}
	in.Status, in.ResolvedBy, in.Resolution = incident.StatusResolved, by, note
	in.ResolvedAt = &now
	in.AddEntry(incident.Entry{TS: now, Kind: "note", Name: "resolved", Reason: strings.TrimSpace("resolved by " + by + ": " + note)})
	if d.opt.Store != nil {
		if err := d.opt.Store.PutIncident(ctx, in); err != nil {
			return nil, fmt.Errorf("detect: resolve %s: %w", id, err)
		}
	}
	if restore && d.opt.Keys != nil {
		if err := RestoreKey(ctx, d.opt.Keys, in.KeyID); err != nil {
			return in, err
		}
	}
	return in, nil
}

// RestoreKey lifts what the detector put on a key: a suspension by the
// detector, a throttle or a step-up. Revocation is final and stays.
func RestoreKey(ctx context.Context, ks store.Keys, keyID string) error {
	_, err := ks.UpdateKey(ctx, keyID, func(k *keys.Key) error {
		if k.Status == keys.StatusSuspended && k.StatusBy == "detector" {
			k.Status, k.StatusReason, k.StatusBy, k.StatusAt = keys.StatusActive, "", "", nil
		}
		k.Action, k.ActionReason, k.ActionUntil = keys.ActionNone, "", nil
		return nil
	})
	if err != nil {
		return fmt.Errorf("detect: restore key %s: %w", keyID, err)
	}
	return nil
}

func (d *Detector) incidentByID(ctx context.Context, id string) (*incident.Incident, error) {
	if d.opt.Store != nil {
		return d.opt.Store.IncidentByID(ctx, id)
	}
	for i := range d.shards {
		sh := &d.shards[i]
		sh.mu.Lock()
		for _, p := range sh.m {
			if p.inc != nil && p.inc.ID == id {
				c := cloneIncident(p.inc)
				sh.mu.Unlock()
				return c, nil
			}
		}
		sh.mu.Unlock()
	}
	return nil, fmt.Errorf("detect: incident %s: %w", id, store.ErrNotFound)
}
