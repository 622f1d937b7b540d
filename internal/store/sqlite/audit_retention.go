// Retention: pruning expired bodies that no legal hold keeps. (Checkpoints
// and the holds themselves are store.Shared's, alike in both backends.)

package sqlite

import (
	"context"
	"fmt"
	"time"
)

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
