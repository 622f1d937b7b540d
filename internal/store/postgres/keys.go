package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store"
)

var _ store.Store = (*DB)(nil)

// scanKey reads the columns of store.KeyCols; last use is a TIMESTAMPTZ.
func scanKey(row store.Row) (*keys.Key, error) {
	return store.ScanKey(row, func(t *time.Time) *time.Time { return t })
}

// CreateKey implements store.Keys.
func (s *DB) CreateKey(ctx context.Context, k *keys.Key) error {
	data, err := store.EncodeKey(k)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO keys (id, hash, name, owner, status, kind, created_at, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			k.ID, k.Hash[:], k.Name, k.Owner, string(k.Status), string(k.Kind), k.CreatedAt, string(data))
		if isUnique(err) {
			return fmt.Errorf("postgres: create key %s: %w", k.ID, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("postgres: create key %s: %w", k.ID, err)
		}
		return logChange(ctx, tx, k.ID)
	})
}

// logChange appends to key_changes. It must run last in its transaction: the
// table lock it takes is held until commit, and taking it after the row
// locks of the change keeps the lock order the same everywhere.
func logChange(ctx context.Context, tx pgx.Tx, id string) error {
	if _, err := tx.Exec(ctx, `LOCK TABLE key_changes IN EXCLUSIVE MODE`); err != nil {
		return fmt.Errorf("postgres: lock key changes: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO key_changes (id) VALUES ($1)`, id); err != nil {
		return fmt.Errorf("postgres: log key change: %w", err)
	}
	return nil
}

// UpdateKey implements store.Keys. The row stays locked (SELECT ... FOR
// UPDATE) from the read to the commit, so concurrent updates from several
// instances apply one after the other and none is lost.
func (s *DB) UpdateKey(ctx context.Context, id string, fn func(*keys.Key) error) (*keys.Key, error) {
	var out *keys.Key
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		k, err := scanKey(tx.QueryRow(ctx, `SELECT `+store.KeyCols+` FROM keys WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: key %s: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("postgres: read key %s: %w", id, err)
		}
		data, err := store.EditKey(k, id, fn)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE keys SET name = $1, owner = $2, status = $3, kind = $4, data = $5 WHERE id = $6`,
			k.Name, k.Owner, string(k.Status), string(k.Kind), string(data), id); err != nil {
			return fmt.Errorf("postgres: update key %s: %w", id, err)
		}
		if err := logChange(ctx, tx, id); err != nil {
			return err
		}
		out = k
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteKey implements store.Keys.
func (s *DB) DeleteKey(ctx context.Context, id string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM keys WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("postgres: delete key %s: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: key %s: %w", id, store.ErrNotFound)
		}
		return logChange(ctx, tx, id)
	})
}

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

// AddUsage implements store.Usage.
func (s *DB) AddUsage(ctx context.Context, keyID, month string, u store.Spend) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO usage (key_id, month, requests, tokens, cost_usd) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (key_id, month) DO UPDATE SET requests = usage.requests + excluded.requests,
			tokens = usage.tokens + excluded.tokens, cost_usd = usage.cost_usd + excluded.cost_usd`,
		keyID, month, u.Requests, u.Tokens, u.CostUSD)
	if err != nil {
		return fmt.Errorf("postgres: add usage for %s: %w", keyID, err)
	}
	return nil
}
