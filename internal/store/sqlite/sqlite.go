// Package sqlite is the embedded store: one SQLite database file in the data
// directory, through the pure-Go modernc.org/sqlite driver (no cgo).
//
// The database runs in WAL mode with a busy timeout, so the CLI can work on
// the same file while a server runs on it. Schema changes are numbered SQL
// files in migrations/, applied in order inside one transaction each and
// recorded in schema_migrations.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/store"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ store.Store = (*DB)(nil)

// DB is the SQLite implementation of store.Store.
type DB struct {
	store.Shared // what both backends do alike, on db
	db           *sql.DB

	audit auditWriter // see audit.go
}

// FileName is the database file inside the data directory.
const FileName = "warden.db"

// Open opens (creating if needed) the database in dir and migrates it.
func Open(ctx context.Context, dir string) (*DB, error) {
	return OpenFile(ctx, filepath.Join(dir, FileName))
}

// OpenFile opens the database at path and migrates it.
func OpenFile(ctx context.Context, path string) (*DB, error) {
	// Create the file 0600 before SQLite does (it would use 0644 less the
	// umask): it holds key hashes and the audit log, and SQLite gives the
	// -wal and -shm files the mode of the database file.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	}
	q := url.Values{}
	for _, p := range []string{
		"busy_timeout(10000)",
		"journal_mode(WAL)",
		"synchronous(NORMAL)", // durable across process crashes in WAL mode; fsync at checkpoints
		"foreign_keys(1)",
	} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate") // writers take the lock up front: no upgrade deadlocks
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	s := &DB{db: db, Shared: store.Shared{
		Dialect: store.Dialect{Name: "sqlite", NoRows: sql.ErrNoRows, IsUnique: isUnique, Param: func(int) string { return "?" }, Instr: "instr",
			Timestamp: func(t time.Time) any { return t.UnixNano() }},
		Q:       driver{db},
		ScanKey: store.ScanKeyNanos,
	}}
	s.InTx = func(ctx context.Context, fn func(store.Querier) error) error {
		return s.inTx(ctx, func(tx *sql.Tx) error { return fn(driver{tx}) })
	}
	s.WriteProfiles = s.writeProfiles
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.upgradeAuditHashes(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// inTx runs fn in a transaction and commits it if fn succeeds, as
// pgx.BeginFunc does for the PostgreSQL store; fn's error is returned as
// it is.
func (s *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// driver adapts database/sql to store.Querier.
type driver struct{ q sqlQuerier }

// sqlQuerier is what a *sql.DB and a *sql.Tx share.
type sqlQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (r driver) QueryRow(ctx context.Context, q string, args ...any) store.Row {
	return r.q.QueryRowContext(ctx, q, args...)
}

func (r driver) Query(ctx context.Context, q string, args ...any) (store.Rows, error) {
	rows, err := r.q.QueryContext(ctx, q, args...)
	return sqlRows{rows}, err
}

func (r driver) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := r.q.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// sqlRows is *sql.Rows with the Close of store.Rows: its error is also
// reported by Err, which the reader checks.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

// SQL returns the underlying handle, for domain packages that keep their own
// tables in the same file (audit, detect).
func (s *DB) SQL() *sql.DB { return s.db }

// Close closes the database.
func (s *DB) Close() error {
	s.audit.close()
	return s.db.Close()
}

func (s *DB) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: create schema_migrations: %w", err)
	}
	ms, err := store.Migrations(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	for _, m := range ms {
		if err := s.apply(ctx, m.Version, m.Name, m.SQL); err != nil {
			return err
		}
	}
	return nil
}

func (s *DB) apply(ctx context.Context, version int, name, body string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin migration %s: %w", name, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
		return fmt.Errorf("sqlite: check migration %s: %w", name, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return fmt.Errorf("sqlite: migration %s: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES (?, ?)`, version, name); err != nil {
		return fmt.Errorf("sqlite: record migration %s: %w", name, err)
	}
	return tx.Commit()
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY constraint violation.
func isUnique(err error) bool {
	if err == nil {
		return false
	}
	var coder interface{ Code() int }
	if errors.As(err, &coder) {
		// SQLITE_CONSTRAINT_UNIQUE = 2067, SQLITE_CONSTRAINT_PRIMARYKEY = 1555
		return coder.Code() == 2067 || coder.Code() == 1555
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}
