package audit

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

func exportFixture(t *testing.T) (*fixture, []byte) {
	t.Helper()
	f := newFixture(t, Config{KeyRetention: map[string]Retention{"thief": {Bodies: BodyEncrypted}}})
	ctx := context.Background()
	mustAppend(t, f.log, 5, "owner")
	mustAppend(t, f.log, 6, "thief")
	mustAppend(t, f.log, 3, "owner")
	var buf bytes.Buffer
	m, err := f.log.Export(ctx, &buf, Scope{KeyID: "thief", Since: t0.Add(time.Second), Until: t0.Add(5 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if m.Entries != 4 || m.Bodies != 4 || m.Checkpoint != 14 {
		t.Fatalf("manifest = %+v", m)
	}
	return f, buf.Bytes()
}

func TestExportAndVerifyBundle(t *testing.T) {
	f, b := exportFixture(t)
	rep, err := VerifyBundle(bytes.NewReader(b), int64(len(b)), f.v)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 4 || rep.Bodies != 4 || rep.KeyFromBundle || rep.Size != 14 {
		t.Fatalf("report = %+v", rep)
	}
	// Without a trusted key it still verifies, and says whose key it used.
	rep, err = VerifyBundle(bytes.NewReader(b), int64(len(b)), nil)
	if err != nil || !rep.KeyFromBundle || rep.VerifierKey != f.log.VerifierKey() {
		t.Fatalf("untrusted verify: %+v, %v", rep, err)
	}
	// Another trusted key refuses it.
	_, vkey, _ := note.GenerateKey(rand.Reader, "warden.test/audit/t1")
	other, _ := note.NewVerifier(vkey)
	if _, err := VerifyBundle(bytes.NewReader(b), int64(len(b)), other); err == nil {
		t.Fatal("bundle verified with another log's key")
	}
	// The summary is readable and names the key; encrypted bodies open
	// with the investigator's identity.
	zr, _ := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	names := map[string]bool{}
	for _, zf := range zr.File {
		names[zf.Name] = true
		if zf.Name == "summary.md" {
			rc, _ := zf.Open()
			s, _ := io.ReadAll(rc)
			if !strings.Contains(string(s), "key thief") || !strings.Contains(string(s), "4 requests") {
				t.Errorf("summary.md:\n%s", s)
			}
		}
	}
	for _, n := range []string{"manifest.json", "checkpoint.txt", "verifier.key", "entries.jsonl", "summary.md", "bodies/000000000006.age"} {
		if !names[n] {
			t.Errorf("bundle lacks %s (has %v)", n, names)
		}
	}
}

// rewriteZip copies a bundle, letting edit change or drop files.
func rewriteZip(t *testing.T, b []byte, edit func(name string, data []byte) ([]byte, bool)) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, zf := range zr.File {
		rc, _ := zf.Open()
		data, _ := io.ReadAll(rc)
		rc.Close()
		data, keep := edit(zf.Name, data)
		if !keep {
			continue
		}
		w, _ := zw.Create(zf.Name)
		w.Write(data)
	}
	zw.Close()
	return out.Bytes()
}

func TestVerifyBundleDetectsTampering(t *testing.T) {
	f, b := exportFixture(t)
	tests := []struct {
		name string
		edit func(name string, data []byte) ([]byte, bool)
	}{
		{"entry changed", func(n string, d []byte) ([]byte, bool) {
			if n == "entries.jsonl" {
				d = bytes.Replace(d, []byte(`\"status\":200`), []byte(`\"status\":500`), 1)
			}
			return d, true
		}},
		{"body changed", func(n string, d []byte) ([]byte, bool) {
			if strings.HasPrefix(n, "bodies/") {
				d = append(bytes.Clone(d[:len(d)-1]), d[len(d)-1]^1)
			}
			return d, true
		}},
		{"file dropped", func(n string, d []byte) ([]byte, bool) { return d, n != "checkpoint.txt" }},
		{"summary changed", func(n string, d []byte) ([]byte, bool) {
			if n == "summary.md" {
				d = append(bytes.Clone(d), "nothing happened\n"...)
			}
			return d, true
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nb := rewriteZip(t, b, tt.edit)
			if _, err := VerifyBundle(bytes.NewReader(nb), int64(len(nb)), f.v); err == nil {
				t.Fatal("tampered bundle verified")
			}
		})
	}
	t.Run("file added", func(t *testing.T) {
		nb := addFile(t, b, "extra.txt", []byte("x"))
		if _, err := VerifyBundle(bytes.NewReader(nb), int64(len(nb)), f.v); err == nil {
			t.Fatal("bundle with an extra file verified")
		}
	})
	// Even with a manifest fixed up to match, a changed entry fails its proof.
	nb := rewriteZip(t, b, func(n string, d []byte) ([]byte, bool) {
		if n == "entries.jsonl" {
			d = bytes.Replace(d, []byte(`203.0.113.7`), []byte(`203.0.113.9`), 1)
		}
		return d, true
	})
	nb = fixManifest(t, nb)
	if _, err := VerifyBundle(bytes.NewReader(nb), int64(len(nb)), f.v); err == nil || !strings.Contains(err.Error(), "leaf hash") {
		t.Fatalf("changed entry with fixed manifest: %v", err)
	}
	if _, err := VerifyBundle(bytes.NewReader([]byte("not a zip")), 9, nil); err == nil {
		t.Fatal("garbage verified")
	}
}

func addFile(t *testing.T, b []byte, name string, data []byte) []byte {
	t.Helper()
	zr, _ := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, zf := range zr.File {
		zw.Copy(zf)
	}
	w, _ := zw.Create(name)
	w.Write(data)
	zw.Close()
	return out.Bytes()
}

func fixManifest(t *testing.T, b []byte) []byte {
	t.Helper()
	return rewriteZip(t, b, func(n string, d []byte) ([]byte, bool) {
		if n != "manifest.json" {
			return d, true
		}
		// Recompute every file's hash, as a forger would.
		zr, _ := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		for _, zf := range zr.File {
			if zf.Name == "manifest.json" {
				continue
			}
			rc, _ := zf.Open()
			data, _ := io.ReadAll(rc)
			rc.Close()
			old := manifestHash(d, zf.Name)
			d = bytes.Replace(d, []byte(old), []byte(sha256hex(data)), 1)
		}
		return d, true
	})
}

func FuzzVerifyBundle(f *testing.F) {
	fx := newFixture(f, Config{Retention: Retention{Bodies: BodyPlaintext}})
	mustAppend(f, fx.log, 3, "k")
	var buf bytes.Buffer
	if _, err := fx.log.Export(context.Background(), &buf, Scope{KeyID: "k"}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Fuzz(func(t *testing.T, b []byte) {
		VerifyBundle(bytes.NewReader(b), int64(len(b)), nil) // must not panic or hang
	})
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// manifestHash returns the hash manifest.json d lists for name.
func manifestHash(d []byte, name string) string {
	_, rest, ok := strings.Cut(string(d), `"`+name+`": "`)
	if !ok || len(rest) < 64 {
		return "\x00absent"
	}
	return rest[:64]
}

// An export by key must hold every entry of the key: one hidden by changing
// the store's key_id column, or by rewriting its leaf to another key with
// every stored hash recomputed, stops the export instead of leaving a
// bundle that silently lacks it.
func TestExportDetectsHiddenEntry(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, db *sql.DB)
		want   string
	}{
		{"key_id column", func(t *testing.T, db *sql.DB) {
			if _, err := db.Exec(`UPDATE audit_entries SET key_id = 'owner' WHERE idx = 7`); err != nil {
				t.Fatal(err)
			}
		}, "entry 7: column key_id"},
		{"leaf and column, hashes recomputed", func(t *testing.T, db *sql.DB) {
			if _, err := db.Exec(`UPDATE audit_entries SET key_id = 'owner', leaf = CAST(replace(CAST(leaf AS TEXT), '"key_id":"thief"', '"key_id":"owner"') AS BLOB) WHERE idx = 7`); err != nil {
				t.Fatal(err)
			}
			rehash(t, db)
		}, "checkpoint 11"}, // its proofs or its root no longer match the checkpoint
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			ctx := context.Background()
			mustAppend(t, f.log, 5, "owner")
			mustAppend(t, f.log, 6, "thief")
			mustCheckpoint(t, f.log)
			var buf bytes.Buffer
			m, err := f.log.Export(ctx, &buf, Scope{KeyID: "thief"})
			if err != nil || m.Entries != 6 {
				t.Fatalf("untouched log: export of %+v, %v; want 6 entries", m, err)
			}
			tt.tamper(t, f.db.SQL())
			var n int
			f.db.SQL().QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE key_id = 'thief'`).Scan(&n)
			if n != 5 {
				t.Fatalf("the tampering left %d entries of thief in the index, want 5", n)
			}
			buf.Reset()
			m, err = f.log.Export(ctx, &buf, Scope{KeyID: "thief"})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("export after hiding entry 7 = %+v, %v; want an error with %q", m, err, tt.want)
			}
		})
	}
}
