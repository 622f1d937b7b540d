package store

import (
	"context"
	"fmt"
	"time"
)

// AddAuditCheckpoint implements AuditCheckpoints.
func (r Shared) AddAuditCheckpoint(ctx context.Context, c AuditCheckpoint) error {
	_, err := r.Q.Exec(ctx, `INSERT INTO audit_checkpoints (size, ts, note) VALUES (`+r.params(3)+`)`, c.Size, Nanos(c.Time), c.Note)
	if r.IsUnique(err) {
		return fmt.Errorf("%s: audit checkpoint %d: %w", r.Name, c.Size, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("%s: audit checkpoint %d: %w", r.Name, c.Size, err)
	}
	return nil
}

// AuditCheckpoints implements AuditCheckpoints.
func (r Shared) AuditCheckpoints(ctx context.Context, minSize, maxSize int64, latest bool) ([]AuditCheckpoint, error) {
	if maxSize < 0 {
		maxSize = 1<<63 - 1
	}
	q := `SELECT size, ts, note FROM audit_checkpoints WHERE size >= ` + r.Param(1) + ` AND size <= ` + r.Param(2) + ` ORDER BY size`
	if latest {
		q += ` DESC LIMIT 1`
	}
	out, err := queryAll(ctx, r.Q, q, []any{minSize, maxSize}, func(row Row) (c AuditCheckpoint, err error) {
		var ts int64
		err = row.Scan(&c.Size, &ts, &c.Note)
		c.Time = FromNanos(ts)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: audit checkpoints: %w", r.Name, err)
	}
	return out, nil
}

// PutAuditHold implements AuditHolds.
func (r Shared) PutAuditHold(ctx context.Context, h AuditHold) error {
	_, err := r.Q.Exec(ctx, `INSERT INTO audit_holds (id, key_id, since, until, incident, reason, created) VALUES (`+r.params(7)+`)
		ON CONFLICT (id) DO UPDATE SET key_id = excluded.key_id, since = excluded.since, until = excluded.until,
		incident = excluded.incident, reason = excluded.reason, created = excluded.created`,
		h.ID, h.KeyID, Nanos(h.Since), Nanos(h.Until), h.Incident, h.Reason, Nanos(h.Created))
	if err != nil {
		return fmt.Errorf("%s: put audit hold %s: %w", r.Name, h.ID, err)
	}
	return nil
}

// DeleteAuditHold implements AuditHolds.
func (r Shared) DeleteAuditHold(ctx context.Context, id string) error {
	n, err := r.Q.Exec(ctx, `DELETE FROM audit_holds WHERE id = `+r.Param(1), id)
	if err != nil {
		return fmt.Errorf("%s: delete audit hold %s: %w", r.Name, id, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: audit hold %s: %w", r.Name, id, ErrNotFound)
	}
	return nil
}

// AuditHolds implements AuditHolds.
func (r Shared) AuditHolds(ctx context.Context) ([]AuditHold, error) {
	out, err := queryAll(ctx, r.Q, `SELECT id, key_id, since, until, incident, reason, created FROM audit_holds ORDER BY id`, nil,
		func(row Row) (h AuditHold, err error) {
			var since, until, created int64
			err = row.Scan(&h.ID, &h.KeyID, &since, &until, &h.Incident, &h.Reason, &created)
			h.Since, h.Until, h.Created = FromNanos(since), FromNanos(until), FromNanos(created)
			return h, err
		})
	if err != nil {
		return nil, fmt.Errorf("%s: audit holds: %w", r.Name, err)
	}
	return out, nil
}

// PruneAuditBodies implements AuditRetention: it deletes the bodies whose
// retention ended and that no legal hold (on their key, or on every key
// with "*") covers.
func (r Shared) PruneAuditBodies(ctx context.Context, now time.Time) (int64, error) {
	n, err := r.Q.Exec(ctx, `DELETE FROM audit_bodies
		WHERE expires > 0 AND expires < `+r.Param(1)+`
		AND NOT EXISTS (SELECT 1 FROM audit_holds h
			WHERE (h.key_id = audit_bodies.key_id OR h.key_id = '*')
			AND (h.since = 0 OR audit_bodies.ts >= h.since)
			AND (h.until = 0 OR audit_bodies.ts <= h.until))`, now.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("%s: prune audit bodies: %w", r.Name, err)
	}
	return n, nil
}

// params returns the placeholders of arguments 1 to n, comma-separated.
func (d Dialect) params(n int) string {
	s := ""
	for i := 1; i <= n; i++ {
		if i > 1 {
			s += ", "
		}
		s += d.Param(i)
	}
	return s
}
