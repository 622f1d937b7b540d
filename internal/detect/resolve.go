package detect

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/incident"
	"github.com/wardenhq/warden/internal/store"
)

// ResolveFunc closes an incident; restore also lifts the detector's
// containment of the key.
type ResolveFunc func(ctx context.Context, id, by, note string, restore bool) (*incident.Incident, error)

// Resolver resolves through the detector, so its in-memory state of the
// key is reset too; the admin API's incidents handler calls it.
func (d *Detector) Resolver(now func() time.Time) ResolveFunc {
	return func(ctx context.Context, id, by, note string, restore bool) (*incident.Incident, error) {
		return d.Resolve(ctx, id, by, note, restore, now().UTC())
	}
}

// ResolveStored resolves an incident directly in a store, for the CLI on a
// data directory. A running server notices on its next write to the
// incident and starts a fresh one if the attack goes on.
func ResolveStored(st store.Incidents, ks store.Keys, now func() time.Time) ResolveFunc {
	return func(ctx context.Context, id, by, note string, restore bool) (*incident.Incident, error) {
		in, err := st.IncidentByID(ctx, id)
		if err != nil {
			return nil, err
		}
		if in.Status != incident.StatusResolved {
			t := now().UTC()
			in.Status, in.ResolvedBy, in.Resolution, in.ResolvedAt = incident.StatusResolved, by, note, &t
			in.AddEntry(incident.Entry{TS: t, Kind: "note", Name: "resolved", Reason: strings.TrimSpace("resolved by " + by + ": " + note)})
			if err := st.PutIncident(ctx, in); err != nil {
				return nil, fmt.Errorf("detect: resolve %s: %w", id, err)
			}
		}
		if restore && ks != nil {
			if err := RestoreKey(ctx, ks, in.KeyID); err != nil {
				return in, err
			}
		}
		return in, nil
	}
}
