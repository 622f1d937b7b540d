package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/store"
)

var _ store.Audit = (*DB)(nil)

// AuditSize implements store.AuditLog.
func (s *DB) AuditSize(ctx context.Context) (int64, error) {
	return auditSize(ctx, s.db)
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func auditSize(ctx context.Context, q queryer) (int64, error) {
	return scanAuditSize(q.QueryRowContext(ctx, auditSizeSQL))
}

const auditSizeSQL = `SELECT MAX(idx) FROM audit_entries`

func scanAuditSize(row *sql.Row) (int64, error) {
	var n sql.NullInt64
	if err := row.Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: audit size: %w", err)
	}
	if !n.Valid {
		return 0, nil
	}
	return n.Int64 + 1, nil
}

// maxHashesPerQuery keeps the IN list of one query well below SQLite's
// limit on bound parameters.
const maxHashesPerQuery = 500

// hashHome returns the entry whose row holds stored hash x, and its
// position in that row: node (level, k) is completed by entry
// (k+1)<<level - 1, as the level-th hash it stores.
func hashHome(x int64) (entry int64, pos int) {
	level, k := tlog.SplitStoredHashIndex(x)
	return (k+1)<<level - 1, level
}

// upgradeAuditHashes moves stored hashes from the first layout (one row
// per hash, table audit_hashes_v1 after migration 0004) into one row per
// entry, and drops the old table. It copies what it finds, damage included,
// so that a verification afterwards still sees any tampering. In the dense
// numbering, entry n's hashes are ids StoredHashCount(n) onwards, so reading
// by id meets each entry's hashes together and in order.
func (s *DB) upgradeAuditHashes(ctx context.Context) error {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'audit_hashes_v1'`).Scan(&n); err != nil {
		return fmt.Errorf("sqlite: upgrade audit hashes: %w", err)
	}
	if n == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: upgrade audit hashes: %w", err)
	}
	defer tx.Rollback()
	const page = 50000
	var (
		after int64 = -1
		entry int64 = -1
		row   []byte
	)
	flush := func() error {
		if entry < 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_hashes (idx, hashes) VALUES (?, ?)`, entry, row)
		row = nil
		return err
	}
	for {
		rows, err := tx.QueryContext(ctx, `SELECT id, hash FROM audit_hashes_v1 WHERE id > ? ORDER BY id LIMIT ?`, after, page)
		if err != nil {
			return fmt.Errorf("sqlite: upgrade audit hashes: %w", err)
		}
		type old struct {
			id int64
			h  []byte
		}
		var got []old
		for rows.Next() {
			var o old
			if err := rows.Scan(&o.id, &o.h); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: upgrade audit hashes: %w", err)
			}
			got = append(got, o)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: upgrade audit hashes: %w", err)
		}
		for _, o := range got {
			e, _ := hashHome(o.id)
			if e != entry {
				if err := flush(); err != nil {
					return fmt.Errorf("sqlite: upgrade audit hashes: %w", err)
				}
				entry = e
			}
			row = append(row, o.h...)
			after = o.id
		}
		if len(got) < page {
			break
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("sqlite: upgrade audit hashes: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE audit_hashes_v1`); err != nil {
		return fmt.Errorf("sqlite: upgrade audit hashes: %w", err)
	}
	return tx.Commit()
}

// AuditHashes implements store.AuditLog.
func (s *DB) AuditHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	want := make(map[int64][]int, len(indexes)) // entry -> positions in indexes
	var entries []int64
	for i, x := range indexes {
		if x < 0 {
			return nil, fmt.Errorf("sqlite: audit hash %d: %w", x, store.ErrNotFound)
		}
		e, _ := hashHome(x)
		if _, ok := want[e]; !ok {
			entries = append(entries, e)
		}
		want[e] = append(want[e], i)
	}
	found := 0
	for lo := 0; lo < len(entries); lo += maxHashesPerQuery {
		hi := min(lo+maxHashesPerQuery, len(entries))
		q := `SELECT idx, hashes FROM audit_hashes WHERE idx IN (?` + strings.Repeat(",?", hi-lo-1) + `)`
		args := make([]any, hi-lo)
		for i, e := range entries[lo:hi] {
			args[i] = e
		}
		rows, err := s.db.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: audit hashes: %w", err)
		}
		for rows.Next() {
			var (
				e  int64
				hs []byte
			)
			if err := rows.Scan(&e, &hs); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: audit hashes: %w", err)
			}
			if len(hs)%tlog.HashSize != 0 {
				rows.Close()
				return nil, fmt.Errorf("sqlite: audit hashes of entry %d are damaged (%d bytes)", e, len(hs))
			}
			for _, i := range want[e] {
				_, pos := hashHome(indexes[i])
				if (pos+1)*tlog.HashSize <= len(hs) {
					copy(out[i][:], hs[pos*tlog.HashSize:])
					found++
				}
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("sqlite: audit hashes: %w", err)
		}
	}
	if found != len(indexes) {
		return nil, fmt.Errorf("sqlite: audit hashes: %d of %d missing: %w", len(indexes)-found, len(indexes), store.ErrNotFound)
	}
	return out, nil
}

// ScanAudit implements store.AuditLog.
func (s *DB) ScanAudit(ctx context.Context, f store.AuditFilter, fn func(*store.AuditEntry) error) error {
	var (
		where []string
		args  []any
	)
	if f.From > 0 {
		where, args = append(where, "e.idx >= ?"), append(args, f.From)
	}
	if f.To > 0 {
		where, args = append(where, "e.idx < ?"), append(args, f.To)
	}
	if f.KeyID != "" {
		where, args = append(where, "e.key_id = ?"), append(args, f.KeyID)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "e.ts >= ?"), append(args, f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		where, args = append(where, "e.ts < ?"), append(args, f.Until.UnixNano())
	}
	q := `SELECT e.idx, e.ts, e.key_id, e.team, e.leaf`
	if f.Bodies {
		q += `, b.body, b.expires, b.key_id, b.ts FROM audit_entries e LEFT JOIN audit_bodies b ON b.idx = e.idx`
	} else {
		q += ` FROM audit_entries e`
	}
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY e.idx`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("sqlite: scan audit: %w", err)
	}
	defer rows.Close()
	// Leaf and body are scanned as RawBytes, valid until the next row:
	// the contract of fn (copy what you keep) allows it, and a verifier
	// reading a million leaves is spared a million copies.
	var (
		e          store.AuditEntry
		ts         int64
		expires    sql.NullInt64
		leaf, body sql.RawBytes
		bKey       sql.NullString
		bTS        sql.NullInt64
	)
	dest := []any{&e.Index, &ts, &e.KeyID, &e.Team, &leaf}
	if f.Bodies {
		dest = append(dest, &body, &expires, &bKey, &bTS)
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("sqlite: scan audit: %w", err)
		}
		e.Leaf, e.Body = leaf, nil
		if body != nil {
			e.Body = body
		}
		e.Time = store.FromNanos(ts)
		e.BodyExpires = store.FromNanos(expires.Int64)
		e.BodyKeyID, e.BodyTime = bKey.String, store.FromNanos(bTS.Int64)
		if err := fn(&e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: scan audit: %w", err)
	}
	return nil
}

// ScanAuditHashes implements store.AuditLog.
func (s *DB) ScanAuditHashes(ctx context.Context, from int64, fn func(int64, tlog.Hash) error) error {
	first, _ := hashHome(max(from, 0))
	rows, err := s.db.QueryContext(ctx, `SELECT idx, hashes FROM audit_hashes WHERE idx >= ? ORDER BY idx`, first)
	if err != nil {
		return fmt.Errorf("sqlite: scan audit hashes: %w", err)
	}
	defer rows.Close()
	var (
		e   int64
		raw sql.RawBytes
		h   tlog.Hash
	)
	for rows.Next() {
		if err := rows.Scan(&e, &raw); err != nil {
			return fmt.Errorf("sqlite: scan audit hashes: %w", err)
		}
		id := tlog.StoredHashCount(e)
		for len(raw) > 0 {
			// A damaged row's last, short hash is handed on padded and
			// flipped: the caller's comparison fails, which is the point.
			h = tlog.Hash{}
			n := copy(h[:], raw)
			if n < tlog.HashSize {
				h[0] ^= 0xff
			}
			raw = raw[n:]
			if id >= from {
				if err := fn(id, h); err != nil {
					return err
				}
			}
			id++
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: scan audit hashes: %w", err)
	}
	return nil
}
