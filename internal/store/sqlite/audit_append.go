// Audit appends: one dedicated connection, chunked multi-row inserts and
// background WAL checkpoints, kept off the request path.

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/store"
	"golang.org/x/mod/sumdb/tlog"
)

// auditWriter runs audit appends on one dedicated connection, with
// automatic WAL checkpoints turned off on it: with them on, every thousandth
// page committed runs a checkpoint (copying the WAL into the database and
// syncing it) inside that append, on the audit log's critical path. A
// background goroutine runs passive checkpoints instead, which never block
// the writer. Rows go in with multi-row INSERTs of a few fixed sizes (150
// rows: 2x64 + 2x8 + 6x1). Every statement of an append, BEGIN and COMMIT
// included, is prepared once on the connection: parsing SQL per batch cost
// more than the inserts did. (database/sql's Tx would re-prepare a
// statement of the connection for every transaction, so the transaction is
// run by hand on the dedicated connection.)
type auditWriter struct {
	mu      sync.Mutex // held for a whole append
	conn    *sql.Conn
	stmts   map[string]*sql.Stmt // by SQL text
	pending int64                // entries appended since the last checkpoint request
	kick    chan struct{}        // asks the checkpointer to run
	done    chan struct{}        // closed when the checkpointer has stopped

	journal auditJournal // the staging area (audit_journal.go); its own locks
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
	w.conn, w.stmts = c, map[string]*sql.Stmt{}
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
	w.journal.close() // first: emptying it takes w.mu
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

// stmtLocked returns the statement q prepared on the append connection.
func (s *DB) stmtLocked(ctx context.Context, q string) (*sql.Stmt, error) {
	w := &s.audit
	if st, ok := w.stmts[q]; ok {
		return st, nil
	}
	st, err := w.conn.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	w.stmts[q] = st
	return st, nil
}

// execLocked runs the prepared statement q with args on the append
// connection.
func (s *DB) execLocked(ctx context.Context, q string, args ...any) error {
	st, err := s.stmtLocked(ctx, q)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, args...)
	return err
}

// insertSQLs[kind][n] is the statement inserting n rows of kind.
var insertSQLs = func() (m [len(insertSQL)]map[int]string) {
	for kind, ins := range insertSQL {
		m[kind] = map[int]string{}
		for _, n := range chunkSizes {
			m[kind][n] = ins.prefix + strings.TrimSuffix(strings.Repeat(ins.row+",", n), ",")
		}
	}
	return m
}()

// insertRowsLocked inserts the rows in args (cols values each) with as
// few statements as chunkSizes allow.
func (s *DB) insertRowsLocked(ctx context.Context, kind insertKind, cols int, args []any) error {
	rows := len(args) / cols
	for _, size := range chunkSizes {
		for rows >= size {
			err := s.execLocked(ctx, insertSQLs[kind][size], args[:size*cols]...)
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
	rows, err := auditRows(start, entries, hashes)
	if err != nil {
		return err
	}
	w := &s.audit
	w.mu.Lock()
	defer w.mu.Unlock()
	return s.appendRowsLocked(ctx, start, rows, nil)
}

// auditRowArgs are the arguments of the inserts of one append.
type auditRowArgs struct {
	entries, bodies, hashes []any
	n                       int
}

// auditRows builds the insert arguments of entries at start and their
// stored hashes.
func auditRows(start int64, entries []store.AuditEntry, hashes []tlog.Hash) (*auditRowArgs, error) {
	end := start + int64(len(entries))
	if want := tlog.StoredHashCount(end) - tlog.StoredHashCount(start); int64(len(hashes)) != want {
		return nil, fmt.Errorf("sqlite: append audit: %d hashes for entries [%d, %d), want %d", len(hashes), start, end, want)
	}
	args := make([]any, 0, 5*len(entries))
	for i, e := range entries {
		args = append(args, start+int64(i), store.Nanos(e.Time), e.KeyID, e.Team, e.Leaf)
	}
	var bodyArgs []any
	for i, e := range entries {
		if e.Body != nil {
			bodyArgs = append(bodyArgs, start+int64(i), e.KeyID, store.Nanos(e.Time), store.Nanos(e.BodyExpires), e.Body)
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
	return &auditRowArgs{entries: args, bodies: bodyArgs, hashes: hashArgs, n: len(entries)}, nil
}

// appendRowsLocked appends rows at start in one transaction on the append
// connection, running also (if not nil) in it before the commit.
func (s *DB) appendRowsLocked(ctx context.Context, start int64, rows *auditRowArgs, also func() error) error {
	w := &s.audit
	err := s.appendLocked(ctx, start, rows, also)
	if err != nil {
		if !errors.Is(err, store.ErrConflict) {
			w.resetLocked()
		}
		return err
	}
	w.pending += int64(rows.n)
	if w.pending >= checkpointEvery {
		w.pending = 0
		select {
		case w.kick <- struct{}{}:
		default: // one is already due
		}
	}
	return nil
}

func (s *DB) appendLocked(ctx context.Context, start int64, rows *auditRowArgs, also func() error) error {
	if _, err := s.auditConnLocked(ctx); err != nil {
		return fmt.Errorf("sqlite: append audit: %w", err)
	}
	return s.inAuditTxLocked(ctx, func() error {
		size, err := s.auditSizeLocked(ctx)
		if err != nil {
			return err
		}
		if size != start {
			return fmt.Errorf("sqlite: append audit at %d, log has %d entries: %w", start, size, store.ErrConflict)
		}
		if err := s.insertRowsLocked(ctx, insertEntries, 5, rows.entries); err != nil {
			return fmt.Errorf("sqlite: append audit entries: %w", err)
		}
		if err := s.insertRowsLocked(ctx, insertBodies, 5, rows.bodies); err != nil {
			return fmt.Errorf("sqlite: append audit bodies: %w", err)
		}
		if err := s.insertRowsLocked(ctx, insertHashes, 2, rows.hashes); err != nil {
			return fmt.Errorf("sqlite: append audit hashes: %w", err)
		}
		if also != nil {
			return also()
		}
		return nil
	})
}

// inAuditTxLocked runs fn in a transaction on the append connection (which
// must be open) and commits it if fn succeeds.
func (s *DB) inAuditTxLocked(ctx context.Context, fn func() error) (err error) {
	// The write lock is taken up front, as _txlock=immediate does for the
	// other connections.
	if err := s.execLocked(ctx, `BEGIN IMMEDIATE`); err != nil {
		return fmt.Errorf("sqlite: append audit: begin: %w", err)
	}
	defer func() {
		if err != nil {
			// The caller drops the connection (resetLocked) on any error
			// but a conflict; after a conflict it keeps it, so it must
			// be out of the transaction.
			if rerr := s.execLocked(context.WithoutCancel(ctx), `ROLLBACK`); rerr != nil && errors.Is(err, store.ErrConflict) {
				s.audit.resetLocked()
			}
		}
	}()
	if err := fn(); err != nil {
		return err
	}
	if err := s.execLocked(ctx, `COMMIT`); err != nil {
		return fmt.Errorf("sqlite: append audit: commit: %w", err)
	}
	return nil
}

// auditSizeLocked is auditSize on the append connection, prepared once.
func (s *DB) auditSizeLocked(ctx context.Context) (int64, error) {
	st, err := s.stmtLocked(ctx, auditSizeSQL)
	if err != nil {
		return 0, fmt.Errorf("sqlite: audit size: %w", err)
	}
	return scanAuditSize(st.QueryRowContext(ctx))
}
