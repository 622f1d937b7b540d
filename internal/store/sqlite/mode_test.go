package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// The database and its -wal and -shm files hold key hashes and the audit
// log: they are created readable by their owner only, whatever the umask.
func TestFilesCreatedPrivate(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.SQL().Exec(`CREATE TABLE mode_probe (x INTEGER); INSERT INTO mode_probe VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{FileName, FileName + "-wal", FileName + "-shm"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %04o, want 0600", name, fi.Mode().Perm())
		}
	}
}
