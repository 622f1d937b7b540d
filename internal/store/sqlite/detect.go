package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wardenhq/warden/internal/incident"
	"github.com/wardenhq/warden/internal/store"
)

var _ store.Detect = (*DB)(nil)

// PutProfiles implements store.Profiles.
func (s *DB) PutProfiles(ctx context.Context, ps []store.Profile) error {
	if len(ps) == 0 {
		return nil
	}
	if err := store.CheckProfiles(ps); err != nil {
		return err
	}
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

// ProfileOf implements store.Profiles.
func (s *DB) ProfileOf(ctx context.Context, keyID string) (store.Profile, error) {
	p := store.Profile{KeyID: keyID}
	var at int64
	err := s.db.QueryRowContext(ctx, `SELECT updated_at, data FROM detect_profiles WHERE key_id = ?`, keyID).Scan(&at, &p.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("sqlite: profile of %s: %w", keyID, store.ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("sqlite: profile of %s: %w", keyID, err)
	}
	p.UpdatedAt = time.Unix(0, at).UTC()
	return p, nil
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
