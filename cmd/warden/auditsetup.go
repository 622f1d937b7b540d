package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

// openAuditLog opens the tamper-evident log over the store, which must
// keep one (SQLite and PostgreSQL do).
func openAuditLog(ctx context.Context, st store.Store, cfg *config.Config) (*audit.Log, error) {
	as, ok := st.(store.Audit)
	if !ok {
		return nil, fmt.Errorf("audit: the %T store keeps no audit log", st)
	}
	c := cfg.Audit
	if c.Origin == "" {
		c.Origin = audit.DefaultOrigin(cfg.Instance)
	}
	if _, shared := st.(store.AuditStaging); shared && (cfg.Audit.SigningKeyFile == "" || cfg.Audit.Origin == "") {
		// Instances sharing one log must sign its checkpoints with one key
		// under one origin, or each one's checkpoints fail on the others.
		slog.Warn("audit: a shared store without audit.origin and audit.signing_key_file: give every instance the same ones (docs/deployment.md)")
	}
	l, err := audit.Open(ctx, as, c, cfg.Data)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return l, nil
}

// auditJournal makes the log the gateway's journal: every event is appended
// (group-committed) before its answer leaves.
func auditJournal(l *audit.Log) gateway.Journal {
	return gateway.JournalFunc(func(ctx context.Context, e *event.Event, prompt, answer []byte) error {
		_, err := l.Append(ctx, e, &audit.Bodies{Prompt: prompt, Answer: answer})
		return err
	})
}

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
