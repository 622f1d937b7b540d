package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/wardenhq/warden/internal/incident"
	"github.com/wardenhq/warden/internal/store"
)

// writeProfiles is store.Shared's WriteProfiles: one prepared upsert per
// profile in one transaction.
func (s *DB) writeProfiles(ctx context.Context, ps []store.Profile) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO detect_profiles (key_id, updated_at, data) VALUES (?, ?, ?)
		ON CONFLICT (key_id) DO UPDATE SET updated_at = excluded.updated_at, data = excluded.data`)
	if err != nil {
		return fmt.Errorf("sqlite: put profiles: %w", err)
	}
	defer stmt.Close()
	for _, p := range ps {
		if _, err := stmt.ExecContext(ctx, p.KeyID, p.UpdatedAt.UnixNano(), p.Data); err != nil {
			return fmt.Errorf("sqlite: put profile %s: %w", p.KeyID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit profiles: %w", err)
	}
	return nil
}

// PutIncident implements store.Incidents.
func (s *DB) PutIncident(ctx context.Context, in *incident.Incident) error {
	data, err := store.EncodeIncident(in)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	var status string
	err = tx.QueryRowContext(ctx, `SELECT status FROM incidents WHERE id = ?`, in.ID).Scan(&status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("sqlite: read incident %s: %w", in.ID, err)
	case status == incident.StatusResolved && in.Status != incident.StatusResolved:
		return fmt.Errorf("sqlite: incident %s is resolved: %w", in.ID, store.ErrConflict)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO incidents (id, key_id, status, severity, opened_at, data) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET key_id = excluded.key_id, status = excluded.status, severity = excluded.severity,
		opened_at = excluded.opened_at, data = excluded.data`,
		in.ID, in.KeyID, in.Status, in.Severity, in.OpenedAt.UnixNano(), string(data))
	if err != nil {
		return fmt.Errorf("sqlite: put incident %s: %w", in.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit incident %s: %w", in.ID, err)
	}
	return nil
}
