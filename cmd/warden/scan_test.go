package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/scan"
	"github.com/wardenhq/warden/internal/scan/fakes"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
)

func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := runWarden(t, args...)
	var ee *exitError
	switch {
	case err == nil:
		return out, 0
	case errors.As(err, &ee):
		return out + ee.msg, ee.code
	default:
		return out + err.Error(), 2
	}
}

func TestScanCommandRevokes(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	db := openData(t, data)
	k, sec := storetest.NewKey(t, "ci")
	if err := db.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	db.Close()

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "app.env"), []byte("WARDEN_KEY="+sec.Reveal()+"\n"), 0o644)

	out, code := runCLI(t, "scan", dir, "--format", "json", "--data", data, "--revoke")
	if code != 1 {
		t.Fatalf("exit %d: %s", code, out)
	}
	var fs []scan.Finding
	if err := json.Unmarshal([]byte(out), &fs); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(fs) != 1 || !fs[0].Revoked || fs[0].KeyID != k.ID {
		t.Fatalf("findings: %+v", fs)
	}
	db = openData(t, data)
	defer db.Close()
	if got, _ := db.KeyByID(ctx, k.ID); got.Status != keys.StatusRevoked || got.StatusBy != "scanner" {
		t.Fatalf("status %s by %s", got.Status, got.StatusBy)
	}
	// The revocation is on record as an incident that says where the key was.
	incs, err := db.ListIncidents(ctx, store.IncidentFilter{KeyID: k.ID})
	if err != nil || len(incs) != 1 || !strings.Contains(incs[0].Title, "app.env") || incs[0].Action != "revoke" {
		t.Fatalf("incidents %+v %v", incs, err)
	}

	// A baseline of that report makes the next scan clean.
	base := filepath.Join(t.TempDir(), "base.json")
	os.WriteFile(base, []byte(out), 0o644)
	if out, code := runCLI(t, "scan", dir, "--baseline", base, "--data", data); code != 0 {
		t.Fatalf("with baseline: exit %d: %s", code, out)
	}
	if out, code := runCLI(t, "scan", filepath.Join(dir, "missing")); code != 2 {
		t.Fatalf("missing target: exit %d: %s", code, out)
	}
	if out, code := runCLI(t, "scan", dir, "--format", "sarif", "--no-verify"); code != 1 || !bytes.Contains([]byte(out), []byte(`"version": "2.1.0"`)) {
		t.Fatalf("sarif: exit %d: %s", code, out)
	}
}

// TestScanMinConfidence: a log line that names its value a request id is
// not reported by default, is reported (low) with --min-confidence low,
// and a bad level is a usage error.
func TestScanMinConfidence(t *testing.T) {
	dir := t.TempDir()
	id := strings.Repeat("3f9a0c1d", 4)
	os.WriteFile(filepath.Join(dir, "app.log"), []byte("WARN azure_openai call throttled request_id="+id+" retry_after=2\n"), 0o644)
	if out, code := runCLI(t, "scan", dir, "--no-verify"); code != 0 {
		t.Fatalf("default: exit %d: %s", code, out)
	}
	out, code := runCLI(t, "scan", dir, "--no-verify", "--format", "json", "--min-confidence", "low")
	var fs []scan.Finding
	if code != 1 || json.Unmarshal([]byte(out), &fs) != nil || len(fs) != 1 || fs[0].Confidence != scan.Low || fs[0].Evidence == "" {
		t.Fatalf("low: exit %d: %s", code, out)
	}
	if out, code := runCLI(t, "scan", dir, "--min-confidence", "sure"); code != 2 {
		t.Fatalf("bad level: exit %d: %s", code, out)
	}
}

// TestScanSiteRobots: warden scan of a site whose robots.txt disallows a
// path does not fetch it, says so on stderr, and fetches it with
// --ignore-robots.
func TestScanSiteRobots(t *testing.T) {
	key := fakes.New(9).Positives()[0]
	var mu sync.Mutex
	hits := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		switch r.URL.Path {
		case "/robots.txt":
			fmt.Fprint(w, "User-agent: *\nDisallow: /admin/\n")
		case "/":
			fmt.Fprint(w, `<html><a href="/admin/env.html">env</a></html>`)
		case "/admin/env.html":
			fmt.Fprint(w, key.Text)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	out, code := runCLI(t, "scan", srv.URL+"/", "--no-verify", "--delay", "0")
	mu.Lock()
	admin := hits["/admin/env.html"]
	mu.Unlock()
	if code != 0 || admin != 0 || !strings.Contains(out, "skipped 1: disallowed by robots.txt") {
		t.Fatalf("exit %d, %d fetches of the disallowed page: %s", code, admin, out)
	}
	out, code = runCLI(t, "scan", srv.URL+"/", "--no-verify", "--delay", "0", "--ignore-robots")
	if code != 1 || !strings.Contains(out, "admin/env.html") {
		t.Fatalf("--ignore-robots: exit %d: %s", code, out)
	}
}
