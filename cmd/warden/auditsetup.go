package main

import (
	"context"
	"time"

	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

// incidentScopes lets the audit log export and hold "an incident": the
// incident's key, from an hour before it opened (the leak and the first
// probes) to its resolution, or to now while it is open.
func incidentScopes(st store.Incidents) audit.Incidents {
	return audit.IncidentsFunc(func(ctx context.Context, id string) (audit.Scope, error) {
		in, err := st.IncidentByID(ctx, id)
		if err != nil {
			return audit.Scope{}, err
		}
		sc := audit.Scope{KeyID: in.KeyID, Since: in.OpenedAt.Add(-time.Hour), Incident: in.ID}
		if in.ResolvedAt != nil {
			sc.Until = *in.ResolvedAt
		}
		return sc, nil
	})
}

func init() {
	auditIncidents = func(ctx context.Context, dataDir string) (audit.Incidents, error) {
		db, err := sqlite.Open(ctx, dataDir)
		if err != nil {
			return nil, err
		}
		// The store stays open for the command's life: it is short.
		return incidentScopes(db), nil
	}
}
