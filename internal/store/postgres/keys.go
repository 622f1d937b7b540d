package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/wardenhq/warden/internal/store"
)

// touchSQL records the newest use per key in one statement. Rows are locked
// in id order first: touches from several instances then never deadlock
// against each other, whatever order their batches come in.
const touchSQL = `
WITH u AS (
    SELECT DISTINCT ON (id) id, at, ip
    FROM unnest($1::text[], $2::timestamptz[], $3::text[]) AS t(id, at, ip)
    ORDER BY id, at DESC
), locked AS (
    SELECT k.id FROM keys k JOIN u ON u.id = k.id
    WHERE k.last_used_at IS NULL OR k.last_used_at < u.at
    ORDER BY k.id
    FOR NO KEY UPDATE OF k
)
UPDATE keys k SET last_used_at = u.at, last_used_ip = u.ip
FROM u JOIN locked l ON l.id = u.id
WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)`

// TouchKeys implements store.Keys. Touches do not count as changes: they
// would invalidate every cache on every request.
func (s *DB) TouchKeys(ctx context.Context, uses []store.KeyUse) error {
	if len(uses) == 0 {
		return nil
	}
	ids := make([]string, len(uses))
	ats := make([]time.Time, len(uses))
	ips := make([]string, len(uses))
	for i, u := range uses {
		ids[i], ats[i], ips[i] = u.ID, u.At, u.IP
	}
	if _, err := s.pool.Exec(ctx, touchSQL, ids, ats, ips); err != nil {
		return fmt.Errorf("postgres: touch %d keys: %w", len(uses), err)
	}
	return nil
}
