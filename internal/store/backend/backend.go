// Package backend opens the store named in configuration, so that package
// store itself need not import its implementations. A target is either a
// PostgreSQL URL or a SQLite location:
//
//	postgres://user@db.example:5432/warden?sslmode=verify-full   PostgreSQL (also postgresql://)
//	sqlite:/var/lib/warden/warden.db                             SQLite file
//	sqlite:/var/lib/warden                                       SQLite in a data directory
//	/var/lib/warden/warden.db, ./data.sqlite                     SQLite file (ends in .db, .sqlite, .sqlite3)
//	/var/lib/warden, ./warden-data                               SQLite in a data directory (created if missing)
//
// Any other scheme (mysql://, redis://, ...) is an error, so a typo cannot
// silently create a SQLite file of that name.
package backend

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/postgres"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

// Kind names a backend.
type Kind string

const (
	Postgres  Kind = "postgres"
	SQLite    Kind = "sqlite"     // a database file
	SQLiteDir Kind = "sqlite-dir" // a data directory holding sqlite.FileName
)

// maxTarget bounds a target string; no real path or DSN comes near.
const maxTarget = 4096

// Parse tells which backend a target names and where it is (the DSN, file
// or directory).
func Parse(target string) (Kind, string, error) {
	target = strings.TrimSpace(target)
	switch {
	case target == "":
		return "", "", errors.New("backend: empty store target")
	case len(target) > maxTarget:
		return "", "", fmt.Errorf("backend: store target longer than %d bytes", maxTarget)
	case strings.ContainsRune(target, 0):
		return "", "", errors.New("backend: store target contains a NUL byte")
	case strings.HasPrefix(target, "postgres://"), strings.HasPrefix(target, "postgresql://"):
		return Postgres, target, nil
	case strings.HasPrefix(target, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(target, "sqlite:"), "//")
		if path == "" {
			return "", "", errors.New("backend: sqlite: target has no path")
		}
		return sqliteKind(path), path, nil
	}
	if i := strings.Index(target, "://"); i > 0 && !strings.ContainsAny(target[:i], `/\.`) {
		return "", "", fmt.Errorf("backend: unsupported store scheme %q (want postgres:// or a SQLite path)", target[:i])
	}
	return sqliteKind(target), target, nil
}

func sqliteKind(path string) Kind {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".db", ".sqlite", ".sqlite3":
		return SQLite
	}
	return SQLiteDir
}

// Open opens (and migrates) the store named by target.
func Open(ctx context.Context, target string) (store.Store, error) {
	kind, where, err := Parse(target)
	if err != nil {
		return nil, err
	}
	switch kind {
	case Postgres:
		return postgres.Open(ctx, where)
	case SQLite:
		return sqlite.OpenFile(ctx, where)
	default:
		if err := os.MkdirAll(where, 0o700); err != nil {
			return nil, fmt.Errorf("backend: create data directory: %w", err)
		}
		return sqlite.Open(ctx, where)
	}
}

// Redact returns target in a form safe to log: a PostgreSQL URL loses its
// password (and any password= parameter); SQLite paths are returned as is.
func Redact(target string) string {
	kind, _, err := Parse(target)
	if err != nil || kind != Postgres {
		if err != nil {
			return "[unparsable store target]"
		}
		return target
	}
	u, err := url.Parse(strings.TrimSpace(target))
	if err != nil {
		return "postgres://[unparsable URL]"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}
