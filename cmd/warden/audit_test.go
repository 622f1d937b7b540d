package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

// runWarden runs the CLI in process and returns its output.
func runWarden(t *testing.T, args ...string) (string, error) {
	t.Helper()
	global = globals{}
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// openData opens the store of the data directory dir, failing the test if
// it cannot. The caller closes it, before the CLI opens the directory.
func openData(t *testing.T, dir string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestAuditCLI(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openData(t, dir)
	l, err := audit.Open(ctx, db, audit.Config{Origin: "warden.test/audit/cli", CheckpointInterval: -1, Retention: audit.Retention{Bodies: audit.BodyPlaintext, MaxAge: time.Hour}}, dir)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range 20 {
		key := "owner"
		if i%2 == 1 {
			key = "thief"
		}
		e := &event.Event{ID: fmt.Sprint(i), Time: t0.Add(time.Duration(i) * time.Minute), KeyID: key, ClientIP: "198.51.100.4", Method: "POST", Path: "/v1/chat/completions", Status: 200}
		if _, err := l.Append(ctx, e, &audit.Bodies{Prompt: []byte("hi")}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close() // signs a checkpoint of 20
	db.Close()

	data := "--data=" + dir
	out, err := runWarden(t, data, "audit", "verify")
	if err != nil || !strings.Contains(out, "ok: 20 entries") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	out, err = runWarden(t, data, "audit", "checkpoint")
	if err != nil || !strings.HasPrefix(out, "warden.test/audit/cli\n20\n") {
		t.Fatalf("checkpoint: %v\n%s", err, out)
	}
	out, err = runWarden(t, data, "audit", "prove", "--index", "7")
	var p audit.InclusionProof
	if err != nil || json.Unmarshal([]byte(out), &p) != nil || p.Index != 7 || p.Size != 20 {
		t.Fatalf("prove: %v\n%s", err, out)
	}
	if _, err := runWarden(t, data, "audit", "consistency", "--old", "20", "--new", "20"); err != nil {
		t.Fatalf("consistency: %v", err)
	}

	bundle := filepath.Join(t.TempDir(), "thief.zip")
	out, err = runWarden(t, data, "audit", "export", "--key", "thief", "--since", "2026-03-01T00:05:00Z", "--out", bundle)
	if err != nil || !strings.Contains(out, "8 entries") {
		t.Fatalf("export: %v\n%s", err, out)
	}
	pub := filepath.Join(dir, audit.PublicKeyFileName)
	out, err = runWarden(t, "audit", "verify-bundle", bundle, "--key", pub)
	if err != nil || !strings.Contains(out, "ok: 8 entries and 8 bodies of key thief") || strings.Contains(out, "warning") {
		t.Fatalf("verify-bundle: %v\n%s", err, out)
	}
	if _, err := runWarden(t, data, "audit", "export", "--incident", "inc-1", "--out", bundle); err == nil {
		t.Error("export --incident without a detector succeeded")
	}

	if out, err := runWarden(t, data, "audit", "hold", "add", "--key", "thief", "--reason", "case 42"); err != nil {
		t.Fatalf("hold add: %v\n%s", err, out)
	}
	out, err = runWarden(t, data, "audit", "hold", "list")
	if err != nil || !strings.Contains(out, "key-thief\tkey thief") {
		t.Fatalf("hold list: %v\n%s", err, out)
	}
	out, err = runWarden(t, data, "audit", "prune", "--now", "2026-03-02")
	if err != nil || !strings.Contains(out, "pruned 10 bodies") {
		t.Fatalf("prune under hold: %v\n%s", err, out)
	}
	if _, err := runWarden(t, data, "audit", "hold", "remove", "key-thief"); err != nil {
		t.Fatal(err)
	}
	if out, _ := runWarden(t, data, "audit", "prune", "--now", "2026-03-02"); !strings.Contains(out, "pruned 10 bodies") {
		t.Fatalf("prune after lifting: %s", out)
	}
	if out, err := runWarden(t, data, "audit", "verify"); err != nil {
		t.Fatalf("verify after prune: %v\n%s", err, out)
	}

	// Tamper with one entry: verify exits 1 and names it.
	db = openData(t, dir)
	if _, err := db.SQL().Exec(`UPDATE audit_entries SET leaf = CAST(replace(CAST(leaf AS TEXT), '198.51.100.4', '198.51.100.5') AS BLOB) WHERE idx = 11`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = runWarden(t, data, "audit", "verify")
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(ee.msg, "entry 11") {
		t.Fatalf("verify after tampering: %v", err)
	}
	// The bundle made before still verifies offline: it needs no store.
	if _, err := runWarden(t, "audit", "verify-bundle", bundle, "--key", pub); err != nil {
		t.Fatalf("old bundle: %v", err)
	}
	if err := os.WriteFile(bundle, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := runWarden(t, "audit", "verify-bundle", bundle); !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("verify-bundle of garbage: %v", err)
	}
}
