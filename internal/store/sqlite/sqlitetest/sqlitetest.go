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
	db, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
