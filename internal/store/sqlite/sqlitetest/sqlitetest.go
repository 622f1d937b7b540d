// Package sqlitetest opens throwaway SQLite stores for the tests of the
// packages that need a real store, instead of each writing out the same
// open, check and close.
package sqlitetest

import (
	"context"
	"testing"

	"github.com/wardenhq/warden/internal/store/sqlite"
)

// Open returns an empty store in a temporary directory, closed when the
// test and its subtests end (before the directory is removed).
func Open(t testing.TB) *sqlite.DB {
	t.Helper()
	return OpenDir(t, t.TempDir())
}

// OpenDir opens the store in data directory dir (several handles on one
// directory share the file), closed when the test and its subtests end.
func OpenDir(t testing.TB, dir string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
