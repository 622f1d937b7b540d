package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
)

// openTemp opens a fresh store in a temporary directory.
// openDir opens the store in data directory dir, failing the test or
// benchmark if it cannot. The caller closes it: the conformance suites do,
// and the journal tests close or crash it on purpose.
func openDir(t testing.TB, dir string) *DB {
	t.Helper()
	db, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openDir(t, t.TempDir()) })
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := storetest.NewKey(t, "persist")
	if err := db.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = OpenFile(ctx, filepath.Join(dir, FileName))
	if err != nil {
		t.Fatalf("reopen (migrations must be idempotent): %v", err)
	}
	defer db.Close()
	if _, err := db.KeyByID(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
}

func TestAuditConformance(t *testing.T) {
	storetest.RunAudit(t, func(t *testing.T) store.Audit { return openDir(t, t.TempDir()) })
}

func TestDetectConformance(t *testing.T) {
	storetest.RunDetect(t, func(t *testing.T) storetest.DetectStore { return openDir(t, t.TempDir()) })
}
