package detect

import (
	"context"
	"errors"

	"github.com/wardenhq/warden/internal/incident"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store"
)

// A key's history starts in one of two ways. A brand-new key's first client
// (network and fingerprint) is its owner: it is known from its first
// request, so a developer's "hi", "test", "ping" on a fresh key raise no
// probe signal. A rotation successor (keys.Key.RotatedFrom) starts from its
// predecessor's profile: the owner's known networks, clients, models and
// baselines carry over, and its first client is trusted too. Neither holds
// for a key reported leaked before its first use.

// reportedLeaked reports whether keyID has an open incident (a leak report
// or the detector's own) or a status other than active.
func (d *Detector) reportedLeaked(ctx context.Context, keyID string) bool {
	if d.opt.Store != nil {
		list, err := d.opt.Store.ListIncidents(ctx, store.IncidentFilter{KeyID: keyID, Status: incident.StatusOpen, Limit: 1})
		if err == nil && len(list) > 0 {
			return true
		}
	}
	if d.opt.Keys != nil {
		if k, err := d.opt.Keys.KeyByID(ctx, keyID); err == nil && k.Status != keys.StatusActive {
			return true
		}
	}
	return false
}

// inheritLocked starts the fresh profile p from the profile of the key it
// replaced in a rotation, if any. The shard lock of p is held; the
// predecessor's shard is locked only if it is another one (rotation chains
// have no cycles, so two locks are never taken in both orders).
func (d *Detector) inheritLocked(ctx context.Context, sh *shard, p *profile) {
	if d.opt.Keys == nil {
		return
	}
	k, err := d.opt.Keys.KeyByID(ctx, p.KeyID)
	if err != nil || k.RotatedFrom == "" || k.RotatedFrom == p.KeyID {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			d.log.Warn("detect: loading key for rotation link", "key_id", p.KeyID, "err", err)
		}
		return
	}
	psh := d.shard(k.RotatedFrom)
	if psh != sh {
		psh.mu.Lock()
		defer psh.mu.Unlock()
	}
	pp := d.profileLocked(ctx, psh, k.RotatedFrom)
	if pp.N == 0 {
		return
	}
	p.inheritFrom(pp, d.known)
}

// inheritFrom copies what describes the owner (known clients, models,
// baselines), not what describes an incident (risk, level, taint).
func (p *profile) inheritFrom(prev *profile, kn knownRule) {
	p.Inherited, p.Lineage = prev.KeyID, prev.lineage()
	if p.Owner == "" {
		p.Owner = prev.Owner
	}
	p.First, p.Last, p.N = prev.First, prev.Last, prev.N
	p.SDK, p.UA, p.Filled, p.HD, p.Flags = prev.SDK, prev.UA, prev.Filled, prev.HD, prev.Flags
	p.CostN, p.CostS = prev.CostN, prev.CostS
	p.Week, p.Day, p.DayMask, p.Hour, p.Active24 = prev.Week, prev.Day, prev.DayMask, prev.Hour, prev.Active24
	p.RootPeak, p.UserPeak, p.CostPeak = prev.RootPeak, prev.UserPeak, prev.CostPeak
	for _, src := range []struct{ from, to *capSet }{{&prev.Nets, &p.Nets}, {&prev.FPs, &p.FPs}, {&prev.Models, &p.Models}} {
		for _, e := range src.from.E {
			if kn.known(e) {
				e.Own = true
				src.to.E = append(src.to.E, e)
			}
		}
	}
}

// lineage names the first key of p's rotation chain.
func (p *profile) lineage() string {
	if p.Lineage != "" {
		return p.Lineage
	}
	return p.KeyID
}
