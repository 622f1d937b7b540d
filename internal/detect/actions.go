// Actions: writing decisions to the key record, and the step-up check the
// gateway asks for keys under step-up.

package detect

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store"
)

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
