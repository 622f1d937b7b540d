package backend

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/store/sqlite"
	"github.com/wardenhq/warden/internal/store/storetest"
	"github.com/wardenhq/warden/internal/testenv"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in    string
		kind  Kind
		where string
		ok    bool
	}{
		{"postgres://u@h/db", Postgres, "postgres://u@h/db", true},
		{"postgresql://u@h/db?sslmode=disable", Postgres, "postgresql://u@h/db?sslmode=disable", true},
		{"sqlite:/var/lib/w/warden.db", SQLite, "/var/lib/w/warden.db", true},
		{"sqlite:///var/lib/w/warden.db", SQLite, "/var/lib/w/warden.db", true},
		{"sqlite:/var/lib/w", SQLiteDir, "/var/lib/w", true},
		{"./warden-data", SQLiteDir, "./warden-data", true},
		{"data.SQLite3", SQLite, "data.SQLite3", true},
		{"  ./x.db ", SQLite, "./x.db", true},
		{"./odd://dir", SQLiteDir, "./odd://dir", true},
		{"", "", "", false},
		{"sqlite:", "", "", false},
		{"mysql://u@h/db", "", "", false},
		{"redis://h:6379", "", "", false},
		{"a\x00b", "", "", false},
		{strings.Repeat("a", maxTarget+1), "", "", false},
	}
	for _, tt := range tests {
		kind, where, err := Parse(tt.in)
		if kind != tt.kind || where != tt.where || (err == nil) != tt.ok {
			t.Errorf("Parse(%q) = %q, %q, %v", tt.in, kind, where, err)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://warden:s3cret@db:5432/w?sslmode=require", "postgres://warden:xxxxx@db:5432/w?sslmode=require"},
		{"postgres://db/w?password=s3cret&sslmode=disable", "postgres://db/w?password=xxxxx&sslmode=disable"},
		{"postgres://warden@db/w", "postgres://warden@db/w"},
		{"/var/lib/warden", "/var/lib/warden"},
		{"mysql://u:s3cret@h/db", "[unparsable store target]"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestOpenSQLite(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "new", "data")
	for _, target := range []string{dir, "sqlite:" + filepath.Join(t.TempDir(), "w.db")} {
		s, err := Open(ctx, target)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		k, _ := storetest.NewKey(t, "a")
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	if _, err := os.Stat(filepath.Join(dir, sqlite.FileName)); err != nil {
		t.Errorf("data directory: %v", err)
	}
}

func TestOpenPostgres(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, testenv.PostgresSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k, _ := storetest.NewKey(t, "a")
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"postgres://u:p@h/db", "sqlite:x.db", "./dir", "mysql://x", "sqlite://", "a://b/c.db", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kind, where, err := Parse(s)
		if err != nil {
			return
		}
		if where == "" || (kind != Postgres && kind != SQLite && kind != SQLiteDir) {
			t.Fatalf("Parse(%q) = %q, %q", s, kind, where)
		}
		r := Redact(s)
		if kind != Postgres {
			return
		}
		// Whatever the input, a redacted URL carries no password but the mask.
		if u, err := url.Parse(r); err == nil {
			if pw, ok := u.User.Password(); ok && pw != "xxxxx" {
				t.Fatalf("Redact(%q) = %q keeps password %q", s, r, pw)
			}
			if q := u.Query(); q.Has("password") && q.Get("password") != "xxxxx" {
				t.Fatalf("Redact(%q) = %q keeps a password parameter", s, r)
			}
		}
	})
}
