// Incidents: grouping a key's signals and actions into one incident.

package detect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/incident"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store"
)

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
