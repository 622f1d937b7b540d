package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Secret files are created 0600 and refused, with the chmod to run, when
// group or others may read them.
func TestSecretFileModes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "admin.token")
	s, err := secretFile(path, "wadm_")
	if err != nil || !strings.HasPrefix(s, "wadm_") {
		t.Fatalf("%q %v", s, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("created with mode %v (%v)", fi.Mode().Perm(), err)
	}
	if again, err := secretFile(path, "wadm_"); err != nil || again != s {
		t.Fatalf("reread: %q %v", again, err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := secretFile(path, "wadm_")
		if err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("mode %04o: got %v, want a refusal naming the chmod", mode, err)
		}
	}
	os.Chmod(path, 0o400)
	if _, err := secretFile(path, "wadm_"); err != nil {
		t.Errorf("mode 0400 refused: %v", err)
	}
}
