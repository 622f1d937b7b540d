package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store"
)

var _ store.Store = (*DB)(nil)

const keyCols = `id, hash, data, last_used_at, last_used_ip`

func scanKey(row interface{ Scan(...any) error }) (*keys.Key, error) {
	var (
		id, data, ip string
		hash         []byte
		lastUsed     sql.NullInt64
	)
	if err := row.Scan(&id, &hash, &data, &lastUsed, &ip); err != nil {
		return nil, err
	}
	k := new(keys.Key)
	if err := json.Unmarshal([]byte(data), k); err != nil {
		return nil, fmt.Errorf("sqlite: decode key %s: %w", id, err)
	}
	copy(k.Hash[:], hash)
	if lastUsed.Valid {
		t := time.Unix(0, lastUsed.Int64).UTC()
		k.LastUsedAt = &t
		k.LastUsedIP = ip
	}
	return k, nil
}

// CreateKey implements store.Keys.
func (s *DB) CreateKey(ctx context.Context, k *keys.Key) error {
	if err := k.Validate(); err != nil {
		return err
	}
	data, err := json.Marshal(k)
	if err != nil {
		return fmt.Errorf("sqlite: encode key: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO keys (id, hash, name, owner, status, kind, created_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Hash[:], k.Name, k.Owner, string(k.Status), string(k.Kind), k.CreatedAt.UnixNano(), string(data))
	if isUnique(err) {
		return fmt.Errorf("sqlite: create key %s: %w", k.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create key %s: %w", k.ID, err)
	}
	if err := logChange(ctx, tx, k.ID); err != nil {
		return err
	}
	return tx.Commit()
}

func logChange(ctx context.Context, tx *sql.Tx, id string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO key_changes (id) VALUES (?)`, id); err != nil {
		return fmt.Errorf("sqlite: log key change: %w", err)
	}
	return nil
}

// KeyByID implements store.Keys.
func (s *DB) KeyByID(ctx context.Context, id string) (*keys.Key, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, `SELECT `+keyCols+` FROM keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: key %s: %w", id, store.ErrNotFound)
	}
	return k, err
}

// KeyByHash implements store.Keys.
func (s *DB) KeyByHash(ctx context.Context, h keys.Hash) (*keys.Key, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, `SELECT `+keyCols+` FROM keys WHERE hash = ?`, h[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: key by hash: %w", store.ErrNotFound)
	}
	return k, err
}

// ListKeys implements store.Keys.
func (s *DB) ListKeys(ctx context.Context, f store.KeyFilter) ([]*keys.Key, error) {
	var (
		where []string
		args  []any
	)
	if f.Status != "" {
		where = append(where, "status = ?")
		args = append(args, string(f.Status))
	}
	if f.Owner != "" {
		where = append(where, "owner = ?")
		args = append(args, f.Owner)
	}
	if f.Kind != "" {
		where = append(where, "kind = ?")
		args = append(args, string(f.Kind))
	}
	if f.Search != "" {
		where = append(where, "(instr(id, ?) > 0 OR instr(lower(name), lower(?)) > 0)")
		args = append(args, f.Search, f.Search)
	}
	if f.After != "" {
		where = append(where, "(created_at, id) > (SELECT created_at, id FROM keys WHERE id = ?)")
		args = append(args, f.After)
	}
	q := `SELECT ` + keyCols + ` FROM keys`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at, id"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list keys: %w", err)
	}
	defer rows.Close()
	var out []*keys.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// UpdateKey implements store.Keys.
func (s *DB) UpdateKey(ctx context.Context, id string, fn func(*keys.Key) error) (*keys.Key, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	k, err := scanKey(tx.QueryRowContext(ctx, `SELECT `+keyCols+` FROM keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: key %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: read key %s: %w", id, err)
	}
	hash := k.Hash
	if err := fn(k); err != nil {
		return nil, err
	}
	k.ID, k.Hash = id, hash // identity is immutable
	if err := k.Validate(); err != nil {
		return nil, err
	}
	data, err := json.Marshal(k)
	if err != nil {
		return nil, fmt.Errorf("sqlite: encode key: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE keys SET name = ?, owner = ?, status = ?, kind = ?, data = ? WHERE id = ?`,
		k.Name, k.Owner, string(k.Status), string(k.Kind), string(data), id); err != nil {
		return nil, fmt.Errorf("sqlite: update key %s: %w", id, err)
	}
	if err := logChange(ctx, tx, id); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlite: commit key %s: %w", id, err)
	}
	return k, nil
}

// DeleteKey implements store.Keys.
func (s *DB) DeleteKey(ctx context.Context, id string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM keys WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlite: delete key %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: key %s: %w", id, store.ErrNotFound)
	}
	if err := logChange(ctx, tx, id); err != nil {
		return err
	}
	return tx.Commit()
}

// TouchKeys implements store.Keys. Touches do not count as changes: they
// would invalidate every cache on every request.
func (s *DB) TouchKeys(ctx context.Context, uses []store.KeyUse) error {
	if len(uses) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
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
	return tx.Commit()
}

// KeysChangedSince implements store.Keys. With nothing new it returns rev
// itself, as the PostgreSQL store does: reading the maximum in a second
// query could return a revision that committed between the two, and the
// caller would skip that change for good.
func (s *DB) KeysChangedSince(ctx context.Context, rev int64) ([]string, int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT rev, id FROM key_changes WHERE rev > ? ORDER BY rev LIMIT 10000`, rev)
	if err != nil {
		return nil, rev, fmt.Errorf("sqlite: key changes: %w", err)
	}
	defer rows.Close()
	var ids []string
	now := rev
	for rows.Next() {
		var id string
		if err := rows.Scan(&now, &id); err != nil {
			return nil, rev, fmt.Errorf("sqlite: key changes: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, rev, fmt.Errorf("sqlite: key changes: %w", err)
	}
	return ids, now, nil
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

// UsageOf implements store.Usage.
func (s *DB) UsageOf(ctx context.Context, keyID, month string) (store.Spend, error) {
	var u store.Spend
	err := s.db.QueryRowContext(ctx, `SELECT requests, tokens, cost_usd FROM usage WHERE key_id = ? AND month = ?`, keyID, month).
		Scan(&u.Requests, &u.Tokens, &u.CostUSD)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Spend{}, nil
	}
	if err != nil {
		return u, fmt.Errorf("sqlite: usage of %s: %w", keyID, err)
	}
	return u, nil
}
