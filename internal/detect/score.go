// Scoring: signals add to a decaying per-kind risk; the policy maps risk
// to a level of response.

package detect

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/incident"
	"github.com/wardenhq/warden/internal/keys"
)

// minAbuseToContain is how much of the risk must come from signals other
// than unfamiliarity (new_client, off_hours) before a key is contained.
const minAbuseToContain = 15

// minAbuseToAlert is the same floor for an alert.
const minAbuseToAlert = 10

// levels of response; a profile only moves up within an incident.
const (
	levelNone = iota
	levelAlert
	levelContain // throttle or step-up
	levelSuspend
	levelRevoke
)

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

	// A key checker at work (probes from unknown clients within the hour)
	// may contain on its own when it sent what no application sends: an
	// empty prompt, a negative max_tokens, a context-length probe, a chat
	// call to an image deployment, or three different probe shapes.
	// Step-up keeps the owner working; this is not enough to suspend.
	// Tiny prompts ("hi", 1 token) and listings alone are what developers,
	// monitors and dashboards send: they need a second kind of signal.
	recentProbe := p.Score[sigProbe] > 0 && now-p.ProbeAt <= int64(time.Hour)
	checker := recentProbe && (bits.OnesCount16(p.ProbeKinds) >= 3 ||
		p.ProbeKinds&(probeEmpty|probeNegative|probeContext|probeImageDeployment) != 0)
	pol := d.cfg.Policy
	level := levelNone
	// Unfamiliarity alone (a new office, a new region at an odd hour) is
	// not worth waking anyone: an alert needs some evidence of abuse.
	if risk >= pol.AlertAt && abuse >= minAbuseToAlert {
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
	// A weak signal alone never contains: it takes two kinds of signal,
	// or one strong one.
	if risk >= containAt && abuse >= minAbuseToContain && (kinds >= 2 || strong || checker) {
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
