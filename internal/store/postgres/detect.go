package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/wardenhq/warden/internal/incident"
	"github.com/wardenhq/warden/internal/store"
)

// writeProfiles is store.Shared's WriteProfiles. Several instances flush
// profiles at once, so rows are written in key order (no deadlock between
// two flushes of overlapping keys) with one multi-row upsert; of two
// profiles of one key in ps the later wins.
func (s *DB) writeProfiles(ctx context.Context, ps []store.Profile) error {
	last := make(map[string]int, len(ps))
	for i, p := range ps {
		last[p.KeyID] = i
	}
	ids := make([]string, 0, len(last))
	for id := range last {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	at := make([]int64, len(ids))
	data := make([][]byte, len(ids))
	for i, id := range ids {
		p := ps[last[id]]
		at[i], data[i] = p.UpdatedAt.UnixNano(), p.Data
		if data[i] == nil {
			data[i] = []byte{} // NOT NULL: an empty profile is still a profile
		}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO detect_profiles (key_id, updated_at, data)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[])
		ON CONFLICT (key_id) DO UPDATE SET updated_at = excluded.updated_at, data = excluded.data`, ids, at, data)
	if err != nil {
		return fmt.Errorf("postgres: put %d profiles: %w", len(ids), err)
	}
	return nil
}

// PutIncident implements store.Incidents. The no-reopen rule is part of
// the upsert itself (its WHERE), so an operator's resolution that commits
// while a detector on another instance writes the same incident can never
// be undone by it.
func (s *DB) PutIncident(ctx context.Context, in *incident.Incident) error {
	data, err := store.EncodeIncident(in)
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO incidents (id, key_id, status, severity, opened_at, data) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET key_id = excluded.key_id, status = excluded.status, severity = excluded.severity,
		opened_at = excluded.opened_at, data = excluded.data
		WHERE incidents.status <> $7 OR excluded.status = $7`,
		in.ID, in.KeyID, in.Status, in.Severity, in.OpenedAt.UnixNano(), string(data), incident.StatusResolved)
	if err != nil {
		return fmt.Errorf("postgres: put incident %s: %w", in.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: incident %s is resolved: %w", in.ID, store.ErrConflict)
	}
	return nil
}
