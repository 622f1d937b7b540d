package warden_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/replay"
	"github.com/wardenhq/warden/internal/store/sqlite"
	"github.com/wardenhq/warden/internal/store/sqlite/sqlitetest"
	"github.com/wardenhq/warden/internal/warden"
)

func recLine(ts time.Time, ip, ua, key string, body string) string {
	h := `{"User-Agent":"` + ua + `","X-Stainless-Lang":"python","api-key":"x","Content-Type":"application/json"}`
	if ua == "" {
		h = `{"host":"w","content-type":"application/json","api-key":"x"}`
	}
	return fmt.Sprintf(`{"ts":%q,"client_ip":%q,"method":"POST","path":"/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21","headers":%s,"body":%s,"key_id":%q,"key_owner":"acme"}`,
		ts.Format(time.RFC3339Nano), ip, h, body, key)
}

func runReplay(t *testing.T, in string) ([]replay.Line, int, *sqlite.DB) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db := sqlitetest.OpenDir(t, dir)
	var out bytes.Buffer
	bad := 0
	n, err := warden.Replay(ctx, warden.ReplayOptions{Store: db, Data: dir, Salt: []byte("salt"), PseudonymKey: []byte("p"),
		Out: &out, Errors: func(int, error) { bad++ }}, strings.NewReader(in))
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	var lines []replay.Line
	for _, l := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		var x replay.Line
		if err := json.Unmarshal(l, &x); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, x)
	}
	if got := countRequests(lines); got != n {
		t.Fatalf("%d request lines for %d records", got, n)
	}
	return lines, bad, db
}

func countRequests(lines []replay.Line) int {
	n := 0
	for _, l := range lines {
		if l.Type == "request" {
			n++
		}
	}
	return n
}

// TestReplayStepUpHoldsFromTheNextRequest replays a key's ordinary day
// and then a reverse proxy on it: the detector steps the key up, and every
// proxy request after the decision is refused by the detector stage.
func TestReplayStepUpHoldsFromTheNextRequest(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	var in strings.Builder
	for i := range 200 {
		in.WriteString(recLine(t0.Add(time.Duration(i)*3*time.Minute), "198.51.100.7", "AzureOpenAI/Python 1.54.0", "k1",
			fmt.Sprintf(`{"messages":[{"role":"user","content":"question %d about the quarterly report"}],"max_tokens":300}`, i)) + "\n")
	}
	in.WriteString("not json\n")
	at := t0.Add(20 * time.Hour)
	for i := range 5 { // a stripped proxy with filled-in defaults
		in.WriteString(recLine(at.Add(time.Duration(i)*time.Second), "45.153.160.2", "", "k1",
			`{"messages":[{"role":"user","content":"*walks in* hello there traveller"}],"max_tokens":400,"temperature":1,"top_p":1,"presence_penalty":0,"frequency_penalty":0}`) + "\n")
	}
	lines, bad, db := runReplay(t, in.String())
	if bad != 1 || countRequests(lines) != 205 {
		t.Fatalf("requests %d, malformed %d; want 205, 1", countRequests(lines), bad)
	}
	if l := lines[0]; l.Type != "request" || l.Line != 1 || l.KeyID != "k1" || l.Status != 200 || l.RefusedBy != "" {
		t.Errorf("first line %+v", l)
	}
	var action *replay.Line
	var after []replay.Line
	for i, l := range lines {
		if l.Type == "action" && action == nil {
			action = &lines[i]
			continue
		}
		if action != nil && l.Type == "request" {
			after = append(after, l)
		}
	}
	if action == nil || action.Action != "step_up" || action.IncidentID == "" {
		t.Fatalf("no step-up: %+v", action)
	}
	if len(after) == 0 {
		t.Fatal("no request after the step-up")
	}
	for _, l := range after {
		if l.Status != 403 || l.RefusedBy != "detector" || l.Reason != "step_up_required" {
			t.Errorf("request after step-up: %d refused_by=%q reason=%q, want 403 detector step_up_required", l.Status, l.RefusedBy, l.Reason)
		}
	}
	k, err := db.KeyByID(context.Background(), "k1")
	if err != nil || k.Action != keys.ActionStepUp || k.Owner != "acme" || k.ActionUntil == nil {
		t.Fatalf("key after replay: %+v %v", k, err)
	}
	// The decision was taken on event time, not the wall clock.
	if want := at.Add(time.Hour); k.ActionUntil.Before(at) || k.ActionUntil.After(want.Add(48*time.Hour)) {
		t.Errorf("action until %v: not on the replay's clock (%v)", k.ActionUntil, at)
	}
}

// TestReplayLimitsReadTheVirtualClock replays a key with an rpm limit: a
// minute of recorded time, not of wall time, refills it.
func TestReplayLimitsReadTheVirtualClock(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := sqlitetest.OpenDir(t, dir)
	salt := []byte("salt")
	sec, err := replay.Secret(salt, "lim")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	k := keys.FromSpec(keys.Spec{Name: "lim", Owner: "acme", RPM: 2}, sec.Hash(), t0.Add(-time.Hour))
	k.ID = "lim"
	if err := db.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	body := `{"messages":[{"role":"user","content":"hello"}]}`
	offsets := []time.Duration{0, time.Second, 2 * time.Second, 61 * time.Second}
	var in strings.Builder
	for _, d := range offsets {
		in.WriteString(recLine(t0.Add(d), "198.51.100.7", "curl/8", "lim", body) + "\n")
	}
	var out bytes.Buffer
	if _, err := warden.Replay(ctx, warden.ReplayOptions{Store: db, Data: dir, Salt: salt, PseudonymKey: []byte("p"), Out: &out},
		strings.NewReader(in.String())); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		status int
		by     string
	}{{200, ""}, {200, ""}, {429, "limit"}, {200, ""}}
	var got []replay.Line
	for _, l := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		var x replay.Line
		if err := json.Unmarshal(l, &x); err != nil {
			t.Fatal(err)
		}
		if x.Type == "request" {
			got = append(got, x)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d requests, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].Status != w.status || got[i].RefusedBy != w.by {
			t.Errorf("request %d (+%v): %d refused_by=%q, want %d %q", i, offsets[i], got[i].Status, got[i].RefusedBy, w.status, w.by)
		}
	}
}
