// Package postgres is the store for many Warden instances: one PostgreSQL
// database shared by all of them, through pgx and its connection pool
// (github.com/jackc/pgx/v5/pgxpool). It implements the same interfaces as
// package sqlite and passes the same conformance suite (storetest).
//
// # Schema and migrations
//
// Schema changes are numbered SQL files in migrations/, numbered like the
// SQLite ones (0001_core.sql holds keys, key_changes and usage in both), so
// one number means the same feature on either backend. Open applies the
// missing ones in order, each in its own transaction, recorded in
// schema_migrations. Instances that start together do not race: migrating
// holds a session advisory lock, so one instance migrates and the others
// wait, then find nothing left to do.
//
// Tables are created in the first schema of the connection's search_path,
// so one database can host several deployments (or tests) side by side:
// add search_path=NAME to the DSN.
//
// # Consistency across instances
//
// Every key change appends to key_changes in the same transaction as the
// change. Writers lock key_changes (EXCLUSIVE mode, which still lets readers
// in) before appending, so revisions commit in the order they are numbered
// and a cache that has read up to revision N can never miss a smaller one
// that commits later, which a bare sequence would allow. Key changes are
// rare (operators, the detector), so the serialisation costs nothing on the
// request path, which only reads.
//
// The audit log (store.Audit, migrations/0002_audit.sql) keeps one total
// order across instances with audit_head, the log's size in one row. Appends
// do not lock it: each instance stages its entries (store.AuditStaging,
// migrations/0004_audit_staging.sql) and one integrator at a time, under an
// advisory lock, moves them to the log's end in batches (see audit.go); the
// instance that integrated last keeps doing so while it renews a lease row
// (migrations/0005_audit_integrator.sql), so batches stay whole.
// Checkpoints need no lock of their own: they are unique by size, and
// package audit checks the tree against the latest one before signing.
//
// Detector profiles and incidents (store.Detect, migrations/0003_detect.sql)
// are plain upserts; PutIncident's no-reopen rule is part of the upsert's
// WHERE, so it holds against a concurrent resolution.
//
// # Failures
//
// The pool reconnects by itself: when the server restarts or a connection is
// killed, the call that hits the dead connection fails with an error and
// later calls get fresh connections; no restart of Warden is needed. The
// gateway keeps serving keys it already knows from its short-lived cache
// while the database is away.
package postgres

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/wardenhq/warden/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ store.Store = (*DB)(nil)

// DB is the PostgreSQL implementation of store.Store.
type DB struct {
	store.Shared // what both backends do alike, on pool
	pool         *pgxpool.Pool
	// instance names this process in the audit integration lease
	// (audit.go): random, so instances sharing a configuration differ.
	instance string
}

// driver adapts a pgx pool to store.Querier.
type driver struct{ q pgxQuerier }

// pgxQuerier is what a pool and a transaction share.
type pgxQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func (r driver) QueryRow(ctx context.Context, q string, args ...any) store.Row {
	return r.q.QueryRow(ctx, q, args...)
}

func (r driver) Query(ctx context.Context, q string, args ...any) (store.Rows, error) {
	return r.q.Query(ctx, q, args...)
}

func (r driver) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := r.q.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

// inTx is store.Shared's InTx on a pgx transaction.
func (s *DB) inTx(ctx context.Context, fn func(store.Querier) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(driver{tx}) })
}

// Defaults applied when the DSN does not say otherwise. Every network call
// gets a bound: callers pass contexts with deadlines, and these catch the
// rest (a connect that never completes, a statement stuck behind a lock).
const (
	defaultConnectTimeout   = 5 * time.Second
	defaultStatementTimeout = "30s"
)

// migrateLock is the advisory lock key held while migrating ("WRDNMIGR").
const migrateLock int64 = 0x5752444e4d494752

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value connection string, see pgconn.ParseConfig) and migrates it. The
// DSN may carry pool settings such as pool_max_conns=20.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The parse error may quote the DSN, password included: do not wrap it.
		return nil, errors.New("postgres: malformed DSN (expected postgres://user@host:port/db?options)")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["statement_timeout"]; !ok {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = defaultStatementTimeout
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "warden"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect to %s: %w", cfg.ConnConfig.Host, err)
	}
	s := &DB{pool: pool, instance: rand.Text(), Shared: store.Shared{
		Dialect: store.Dialect{Name: "postgres", NoRows: pgx.ErrNoRows, IsUnique: isUnique, Param: func(n int) string { return fmt.Sprintf("$%d", n) }, Instr: "strpos",
			Timestamp: func(t time.Time) any { return t }, ForUpdate: " FOR UPDATE", LockKeyChanges: `LOCK TABLE key_changes IN EXCLUSIVE MODE`},
		Q:       driver{pool},
		ScanKey: store.ScanKeyTime,
	}}
	s.InTx, s.WriteProfiles = s.inTx, s.writeProfiles
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Pool returns the connection pool, for domain packages that keep their own
// tables in the same database (audit, detect).
func (s *DB) Pool() *pgxpool.Pool { return s.pool }

// Close closes every connection of the pool.
func (s *DB) Close() error {
	s.releaseIntegration()
	s.pool.Close()
	return nil
}

func (s *DB) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLock); err != nil {
		return fmt.Errorf("postgres: wait for migration lock: %w", err)
	}
	defer func() {
		// A fresh context: the lock must go even if ctx has ended. Should the
		// unlock fail, the lock dies with the connection, so drop it.
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, migrateLock); err != nil {
			conn.Conn().Close(uctx)
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("postgres: create schema_migrations: %w", err)
	}
	ms, err := store.Migrations(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	for _, m := range ms {
		if err := apply(ctx, conn.Conn(), m.Version, m.Name, m.SQL); err != nil {
			return err
		}
	}
	return nil
}

func apply(ctx context.Context, conn *pgx.Conn, version int, name, body string) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin migration %s: %w", name, err)
	}
	defer tx.Rollback(ctx)
	var n int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil {
		return fmt.Errorf("postgres: check migration %s: %w", name, err)
	}
	if n > 0 {
		return nil
	}
	// Exec without arguments uses the simple protocol, which runs a file of
	// several statements in one go.
	if _, err := tx.Exec(ctx, body); err != nil {
		return fmt.Errorf("postgres: migration %s: %w", name, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, version, name); err != nil {
		return fmt.Errorf("postgres: record migration %s: %w", name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit migration %s: %w", name, err)
	}
	return nil
}

// isUnique reports whether err is a unique or primary key violation.
func isUnique(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23505" // unique_violation
}
