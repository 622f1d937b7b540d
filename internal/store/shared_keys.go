package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/wardenhq/warden/internal/keys"
)

// The key writes, each in one transaction with its entry in key_changes.

// CreateKey implements Keys.
func (r Shared) CreateKey(ctx context.Context, k *keys.Key) error {
	data, err := EncodeKey(k)
	if err != nil {
		return err
	}
	return r.InTx(ctx, func(q Querier) error {
		_, err := q.Exec(ctx, `INSERT INTO keys (id, hash, name, owner, status, kind, created_at, data) VALUES (`+r.params(8)+`)`,
			k.ID, k.Hash[:], k.Name, k.Owner, string(k.Status), string(k.Kind), r.Timestamp(k.CreatedAt), string(data))
		if r.IsUnique(err) {
			return fmt.Errorf("%s: create key %s: %w", r.Name, k.ID, ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("%s: create key %s: %w", r.Name, k.ID, err)
		}
		return r.logChange(ctx, q, k.ID)
	})
}

// UpdateKey implements Keys. The row stays locked from the read to the
// commit (ForUpdate), so concurrent updates apply one after the other and
// none is lost.
func (r Shared) UpdateKey(ctx context.Context, id string, fn func(*keys.Key) error) (*keys.Key, error) {
	var out *keys.Key
	err := r.InTx(ctx, func(q Querier) error {
		k, err := r.ScanKey(q.QueryRow(ctx, `SELECT `+KeyCols+` FROM keys WHERE id = `+r.Param(1)+r.ForUpdate, id))
		if errors.Is(err, r.NoRows) {
			return fmt.Errorf("%s: key %s: %w", r.Name, id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("%s: read key %s: %w", r.Name, id, err)
		}
		data, err := EditKey(k, id, fn)
		if err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `UPDATE keys SET name = `+r.Param(1)+`, owner = `+r.Param(2)+`, status = `+r.Param(3)+
			`, kind = `+r.Param(4)+`, data = `+r.Param(5)+` WHERE id = `+r.Param(6),
			k.Name, k.Owner, string(k.Status), string(k.Kind), string(data), id); err != nil {
			return fmt.Errorf("%s: update key %s: %w", r.Name, id, err)
		}
		out = k
		return r.logChange(ctx, q, id)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteKey implements Keys.
func (r Shared) DeleteKey(ctx context.Context, id string) error {
	return r.InTx(ctx, func(q Querier) error {
		n, err := q.Exec(ctx, `DELETE FROM keys WHERE id = `+r.Param(1), id)
		if err != nil {
			return fmt.Errorf("%s: delete key %s: %w", r.Name, id, err)
		}
		if n == 0 {
			return fmt.Errorf("%s: key %s: %w", r.Name, id, ErrNotFound)
		}
		return r.logChange(ctx, q, id)
	})
}

// logChange appends id to key_changes. It must run last in its
// transaction: the lock it may take (LockKeyChanges) is held until commit,
// and taking it after the row locks of the change keeps the lock order the
// same everywhere.
func (r Shared) logChange(ctx context.Context, q Querier, id string) error {
	if r.LockKeyChanges != "" {
		if _, err := q.Exec(ctx, r.LockKeyChanges); err != nil {
			return fmt.Errorf("%s: lock key changes: %w", r.Name, err)
		}
	}
	if _, err := q.Exec(ctx, `INSERT INTO key_changes (id) VALUES (`+r.Param(1)+`)`, id); err != nil {
		return fmt.Errorf("%s: log key change: %w", r.Name, err)
	}
	return nil
}
