package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/wardenhq/warden/internal/incident"
	"github.com/wardenhq/warden/internal/store"
)

var _ store.Detect = (*DB)(nil)

const maxProfile = 1 << 20

// PutProfiles implements store.Profiles. Several instances flush profiles
// at once, so rows are written in key order (no deadlock between two
// flushes of overlapping keys) with one multi-row upsert; of two profiles
// of one key in ps the later wins.
func (s *DB) PutProfiles(ctx context.Context, ps []store.Profile) error {
	if len(ps) == 0 {
		return nil
	}
	last := make(map[string]int, len(ps))
	for i, p := range ps {
		if p.KeyID == "" || len(p.Data) > maxProfile {
			return fmt.Errorf("postgres: profile of %q: missing key id or larger than %d bytes", p.KeyID, maxProfile)
		}
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

// ProfileOf implements store.Profiles.
func (s *DB) ProfileOf(ctx context.Context, keyID string) (store.Profile, error) {
	p := store.Profile{KeyID: keyID}
	var at int64
	err := s.pool.QueryRow(ctx, `SELECT updated_at, data FROM detect_profiles WHERE key_id = $1`, keyID).Scan(&at, &p.Data)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, fmt.Errorf("postgres: profile of %s: %w", keyID, store.ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("postgres: profile of %s: %w", keyID, err)
	}
	p.UpdatedAt = fromNanos(at)
	return p, nil
}

// PutIncident implements store.Incidents. The no-reopen rule is part of
// the upsert itself (its WHERE), so an operator's resolution that commits
// while a detector on another instance writes the same incident can never
// be undone by it.
func (s *DB) PutIncident(ctx context.Context, in *incident.Incident) error {
	if in.ID == "" || in.KeyID == "" {
		return errors.New("postgres: incident needs an id and a key id")
	}
	data, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("postgres: encode incident %s: %w", in.ID, err)
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

// IncidentByID implements store.Incidents.
func (s *DB) IncidentByID(ctx context.Context, id string) (*incident.Incident, error) {
	var data string
	err := s.pool.QueryRow(ctx, `SELECT data FROM incidents WHERE id = $1`, id).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: incident %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: incident %s: %w", id, err)
	}
	in := new(incident.Incident)
	if err := json.Unmarshal([]byte(data), in); err != nil {
		return nil, fmt.Errorf("postgres: decode incident %s: %w", id, err)
	}
	return in, nil
}

// ListIncidents implements store.Incidents.
func (s *DB) ListIncidents(ctx context.Context, f store.IncidentFilter) ([]*incident.Incident, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.KeyID != "" {
		add("key_id = $%d", f.KeyID)
	}
	if f.Status != "" {
		add("status = $%d", f.Status)
	}
	if !f.Since.IsZero() {
		add("opened_at >= $%d", f.Since.UnixNano())
	}
	q := `SELECT id, data FROM incidents`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY opened_at DESC, id DESC"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list incidents: %w", err)
	}
	out := []*incident.Incident{}
	var id, data string
	_, err = pgx.ForEachRow(rows, []any{&id, &data}, func() error {
		in := new(incident.Incident)
		if err := json.Unmarshal([]byte(data), in); err != nil {
			return fmt.Errorf("decode incident %s: %w", id, err)
		}
		out = append(out, in)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list incidents: %w", err)
	}
	return out, nil
}
