package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store"
)

var _ store.Store = (*DB)(nil)

// scanKey reads the columns of store.KeyCols; SQLite keeps the time of
// last use as Unix nanoseconds.
func scanKey(row store.Row) (*keys.Key, error) {
	return store.ScanKey(row, func(n sql.NullInt64) *time.Time {
		if !n.Valid {
			return nil
		}
		t := time.Unix(0, n.Int64)
		return &t
	})
}

// CreateKey implements store.Keys.
func (s *DB) CreateKey(ctx context.Context, k *keys.Key) error {
	data, err := store.EncodeKey(k)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO keys (id, hash, name, owner, status, kind, created_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.Hash[:], k.Name, k.Owner, string(k.Status), string(k.Kind), k.CreatedAt.UnixNano(), string(data))
		if isUnique(err) {
			return fmt.Errorf("sqlite: create key %s: %w", k.ID, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("sqlite: create key %s: %w", k.ID, err)
		}
		return logChange(ctx, tx, k.ID)
	})
}

func logChange(ctx context.Context, tx *sql.Tx, id string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO key_changes (id) VALUES (?)`, id); err != nil {
		return fmt.Errorf("sqlite: log key change: %w", err)
	}
	return nil
}

// UpdateKey implements store.Keys.
func (s *DB) UpdateKey(ctx context.Context, id string, fn func(*keys.Key) error) (*keys.Key, error) {
	var out *keys.Key
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		k, err := scanKey(tx.QueryRowContext(ctx, `SELECT `+store.KeyCols+` FROM keys WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: key %s: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: read key %s: %w", id, err)
		}
		data, err := store.EditKey(k, id, fn)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE keys SET name = ?, owner = ?, status = ?, kind = ?, data = ? WHERE id = ?`,
			k.Name, k.Owner, string(k.Status), string(k.Kind), string(data), id); err != nil {
			return fmt.Errorf("sqlite: update key %s: %w", id, err)
		}
		out = k
		return logChange(ctx, tx, id)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteKey implements store.Keys.
func (s *DB) DeleteKey(ctx context.Context, id string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM keys WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("sqlite: delete key %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("sqlite: key %s: %w", id, store.ErrNotFound)
		}
		return logChange(ctx, tx, id)
	})
}

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

// AddUsage implements store.Usage.
func (s *DB) AddUsage(ctx context.Context, keyID, month string, u store.Spend) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO usage (key_id, month, requests, tokens, cost_usd) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (key_id, month) DO UPDATE SET requests = requests + excluded.requests, tokens = tokens + excluded.tokens, cost_usd = cost_usd + excluded.cost_usd`,
		keyID, month, u.Requests, u.Tokens, u.CostUSD)
	if err != nil {
		return fmt.Errorf("sqlite: add usage for %s: %w", keyID, err)
	}
	return nil
}
