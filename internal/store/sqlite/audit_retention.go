// Signed checkpoints of the audit tree, and retention: pruning bodies and
// legal holds that keep them.

package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/wardenhq/warden/internal/store"
)

// AddAuditCheckpoint implements store.AuditCheckpoints.
func (s *DB) AddAuditCheckpoint(ctx context.Context, c store.AuditCheckpoint) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO audit_checkpoints (size, ts, note) VALUES (?, ?, ?)`, c.Size, store.Nanos(c.Time), c.Note)
	if isUnique(err) {
		return fmt.Errorf("sqlite: audit checkpoint %d: %w", c.Size, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: audit checkpoint %d: %w", c.Size, err)
	}
	return nil
}

// AuditCheckpoints implements store.AuditCheckpoints.
func (s *DB) AuditCheckpoints(ctx context.Context, minSize, maxSize int64, latest bool) ([]store.AuditCheckpoint, error) {
	if maxSize < 0 {
		maxSize = 1<<63 - 1
	}
	q := `SELECT size, ts, note FROM audit_checkpoints WHERE size >= ? AND size <= ? ORDER BY size`
	if latest {
		q += ` DESC LIMIT 1`
	}
	rows, err := s.db.QueryContext(ctx, q, minSize, maxSize)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit checkpoints: %w", err)
	}
	defer rows.Close()
	var out []store.AuditCheckpoint
	for rows.Next() {
		var (
			c  store.AuditCheckpoint
			ts int64
		)
		if err := rows.Scan(&c.Size, &ts, &c.Note); err != nil {
			return nil, fmt.Errorf("sqlite: audit checkpoints: %w", err)
		}
		c.Time = store.FromNanos(ts)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: audit checkpoints: %w", err)
	}
	return out, nil
}

// PruneAuditBodies implements store.AuditRetention.
func (s *DB) PruneAuditBodies(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM audit_bodies
		WHERE expires > 0 AND expires < ?
		AND NOT EXISTS (SELECT 1 FROM audit_holds h
			WHERE (h.key_id = audit_bodies.key_id OR h.key_id = '*')
			AND (h.since = 0 OR audit_bodies.ts >= h.since)
			AND (h.until = 0 OR audit_bodies.ts <= h.until))`, now.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune audit bodies: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune audit bodies: %w", err)
	}
	return n, nil
}

// PutAuditHold implements store.AuditHolds.
func (s *DB) PutAuditHold(ctx context.Context, h store.AuditHold) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO audit_holds (id, key_id, since, until, incident, reason, created) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET key_id = excluded.key_id, since = excluded.since, until = excluded.until,
		incident = excluded.incident, reason = excluded.reason, created = excluded.created`,
		h.ID, h.KeyID, store.Nanos(h.Since), store.Nanos(h.Until), h.Incident, h.Reason, store.Nanos(h.Created))
	if err != nil {
		return fmt.Errorf("sqlite: put audit hold %s: %w", h.ID, err)
	}
	return nil
}

// DeleteAuditHold implements store.AuditHolds.
func (s *DB) DeleteAuditHold(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM audit_holds WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlite: delete audit hold %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: delete audit hold %s: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: audit hold %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// AuditHolds implements store.AuditHolds.
func (s *DB) AuditHolds(ctx context.Context) ([]store.AuditHold, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, key_id, since, until, incident, reason, created FROM audit_holds ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit holds: %w", err)
	}
	defer rows.Close()
	var out []store.AuditHold
	for rows.Next() {
		var (
			h                     store.AuditHold
			since, until, created int64
		)
		if err := rows.Scan(&h.ID, &h.KeyID, &since, &until, &h.Incident, &h.Reason, &created); err != nil {
			return nil, fmt.Errorf("sqlite: audit holds: %w", err)
		}
		h.Since, h.Until, h.Created = store.FromNanos(since), store.FromNanos(until), store.FromNanos(created)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: audit holds: %w", err)
	}
	return out, nil
}
