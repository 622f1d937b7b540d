package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/wardenhq/warden/internal/store"
)

// TouchKeys implements store.Keys. Touches do not count as changes: they
// would invalidate every cache on every request.
func (s *DB) TouchKeys(ctx context.Context, uses []store.KeyUse) error {
	if len(uses) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE keys SET last_used_at = ?, last_used_ip = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`)
		if err != nil {
			return fmt.Errorf("sqlite: touch keys: %w", err)
		}
		defer stmt.Close()
		for _, u := range uses {
			t := u.At.UnixNano()
			if _, err := stmt.ExecContext(ctx, t, u.IP, u.ID, t); err != nil {
				return fmt.Errorf("sqlite: touch key %s: %w", u.ID, err)
			}
		}
		return nil
	})
}
