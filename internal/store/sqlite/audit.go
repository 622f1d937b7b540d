package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/store"
)

var _ store.Audit = (*DB)(nil)

// nanos stores a time as Unix nanoseconds, the zero time as 0.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// AuditSize implements store.AuditLog.
func (s *DB) AuditSize(ctx context.Context) (int64, error) {
	return auditSize(ctx, s.db)
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func auditSize(ctx context.Context, q queryer) (int64, error) {
	var n sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT MAX(idx) FROM audit_entries`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: audit size: %w", err)
	}
	if !n.Valid {
		return 0, nil
	}
	return n.Int64 + 1, nil
}

// auditWriter runs audit appends on one dedicated connection, with
// automatic WAL checkpoints turned off on it: with them on, every thousandth
// page committed runs a checkpoint (copying the WAL into the database and
// syncing it) inside that append, on the audit log's critical path. A
// background goroutine runs passive checkpoints instead, which never block
// the writer. Rows go in with multi-row INSERTs of a few fixed sizes (150
// rows: 2x64 + 2x8 + 6x1), prepared once: parsing SQL per batch cost more
// than the inserts did.
type auditWriter struct {
	mu      sync.Mutex // held for a whole append
	conn    *sql.Conn
	stmts   map[int]*sql.Stmt
	pending int64         // entries appended since the last checkpoint request
	kick    chan struct{} // asks the checkpointer to run
	done    chan struct{} // closed when the checkpointer has stopped
}

var chunkSizes = []int{64, 8, 1}

// checkpointEvery is how many appended entries (about 1 KB each) trigger a
// passive WAL checkpoint.
const checkpointEvery = 4096

type insertKind int

const (
	insertEntries insertKind = iota
	insertBodies
	insertHashes
)

var insertSQL = [...]struct{ prefix, row string }{
	insertEntries: {`INSERT INTO audit_entries (idx, ts, key_id, team, leaf) VALUES `, "(?,?,?,?,?)"},
	insertBodies:  {`INSERT INTO audit_bodies (idx, key_id, ts, expires, body) VALUES `, "(?,?,?,?,?)"},
	insertHashes:  {`INSERT INTO audit_hashes (idx, hashes) VALUES `, "(?,?)"},
}

// auditConnLocked returns the append connection, opening it on first use.
func (s *DB) auditConnLocked(ctx context.Context) (*sql.Conn, error) {
	w := &s.audit
	if w.conn != nil {
		return w.conn, nil
	}
	c, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := c.ExecContext(ctx, `PRAGMA wal_autocheckpoint=0`); err != nil {
		c.Close()
		return nil, err
	}
	w.conn, w.stmts = c, map[int]*sql.Stmt{}
	if w.kick == nil {
		w.kick, w.done = make(chan struct{}, 1), make(chan struct{})
		go s.checkpointer(w.kick, w.done)
	}
	return c, nil
}

// resetLocked drops the append connection after an error, so the next
// append starts on a fresh one.
func (w *auditWriter) resetLocked() {
	for _, st := range w.stmts {
		st.Close()
	}
	if w.conn != nil {
		w.conn.Close()
	}
	w.conn, w.stmts = nil, nil
}

func (w *auditWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.resetLocked()
	if w.kick != nil {
		close(w.kick)
		<-w.done
		w.kick = nil
	}
}

func (s *DB) checkpointer(kick <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for range kick {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		// Failure is harmless: the WAL grows until the next one succeeds.
		s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
		cancel()
	}
}

// insertStmtLocked returns the prepared statement inserting n rows of kind.
func (s *DB) insertStmtLocked(ctx context.Context, kind insertKind, n int) (*sql.Stmt, error) {
	w := &s.audit
	key := int(kind)<<16 | n
	if st, ok := w.stmts[key]; ok {
		return st, nil
	}
	q := insertSQL[kind].prefix + strings.TrimSuffix(strings.Repeat(insertSQL[kind].row+",", n), ",")
	st, err := w.conn.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	w.stmts[key] = st
	return st, nil
}

// insertRowsLocked inserts the rows in args (cols values each) with as
// few statements as chunkSizes allow.
func (s *DB) insertRowsLocked(ctx context.Context, tx *sql.Tx, kind insertKind, cols int, args []any) error {
	rows := len(args) / cols
	for _, size := range chunkSizes {
		for rows >= size {
			st, err := s.insertStmtLocked(ctx, kind, size)
			if err != nil {
				return err
			}
			_, err = tx.StmtContext(ctx, st).ExecContext(ctx, args[:size*cols]...)
			if isUnique(err) {
				return fmt.Errorf("%w: %w", store.ErrConflict, err)
			}
			if err != nil {
				return err
			}
			args, rows = args[size*cols:], rows-size
		}
	}
	return nil
}

// AppendAudit implements store.AuditLog.
func (s *DB) AppendAudit(ctx context.Context, start int64, entries []store.AuditEntry, hashes []tlog.Hash) error {
	if len(entries) == 0 {
		return nil
	}
	end := start + int64(len(entries))
	if want := tlog.StoredHashCount(end) - tlog.StoredHashCount(start); int64(len(hashes)) != want {
		return fmt.Errorf("sqlite: append audit: %d hashes for entries [%d, %d), want %d", len(hashes), start, end, want)
	}
	args := make([]any, 0, 5*len(entries))
	for i, e := range entries {
		args = append(args, start+int64(i), nanos(e.Time), e.KeyID, e.Team, e.Leaf)
	}
	var bodyArgs []any
	for i, e := range entries {
		if e.Body != nil {
			bodyArgs = append(bodyArgs, start+int64(i), e.KeyID, nanos(e.Time), nanos(e.BodyExpires), e.Body)
		}
	}
	// One row of hashes per entry: entry n made the stored hashes
	// StoredHashCount(n) up to StoredHashCount(n+1).
	flat := make([]byte, 0, len(hashes)*tlog.HashSize)
	for i := range hashes {
		flat = append(flat, hashes[i][:]...)
	}
	hashArgs := make([]any, 0, 2*len(entries))
	off := 0
	for i := range entries {
		n := start + int64(i)
		k := int(tlog.StoredHashCount(n+1)-tlog.StoredHashCount(n)) * tlog.HashSize
		hashArgs = append(hashArgs, n, flat[off:off+k])
		off += k
	}

	w := &s.audit
	w.mu.Lock()
	defer w.mu.Unlock()
	err := s.appendLocked(ctx, start, args, bodyArgs, hashArgs)
	if err != nil {
		if !errors.Is(err, store.ErrConflict) {
			w.resetLocked()
		}
		return err
	}
	w.pending += int64(len(entries))
	if w.pending >= checkpointEvery {
		w.pending = 0
		select {
		case w.kick <- struct{}{}:
		default: // one is already due
		}
	}
	return nil
}

func (s *DB) appendLocked(ctx context.Context, start int64, args, bodyArgs, hashArgs []any) error {
	conn, err := s.auditConnLocked(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: append audit: %w", err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: append audit: begin: %w", err)
	}
	defer tx.Rollback()
	size, err := auditSize(ctx, tx)
	if err != nil {
		return err
	}
	if size != start {
		return fmt.Errorf("sqlite: append audit at %d, log has %d entries: %w", start, size, store.ErrConflict)
	}
	if err := s.insertRowsLocked(ctx, tx, insertEntries, 5, args); err != nil {
		return fmt.Errorf("sqlite: append audit entries: %w", err)
	}
	if err := s.insertRowsLocked(ctx, tx, insertBodies, 5, bodyArgs); err != nil {
		return fmt.Errorf("sqlite: append audit bodies: %w", err)
	}
	if err := s.insertRowsLocked(ctx, tx, insertHashes, 2, hashArgs); err != nil {
		return fmt.Errorf("sqlite: append audit hashes: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: append audit: commit: %w", err)
	}
	return nil
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
		e.Time = fromNanos(ts)
		e.BodyExpires = fromNanos(expires.Int64)
		e.BodyKeyID, e.BodyTime = bKey.String, fromNanos(bTS.Int64)
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

// AddAuditCheckpoint implements store.AuditCheckpoints.
func (s *DB) AddAuditCheckpoint(ctx context.Context, c store.AuditCheckpoint) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO audit_checkpoints (size, ts, note) VALUES (?, ?, ?)`, c.Size, nanos(c.Time), c.Note)
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
		c.Time = fromNanos(ts)
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
		h.ID, h.KeyID, nanos(h.Since), nanos(h.Until), h.Incident, h.Reason, nanos(h.Created))
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
		h.Since, h.Until, h.Created = fromNanos(since), fromNanos(until), fromNanos(created)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: audit holds: %w", err)
	}
	return out, nil
}
