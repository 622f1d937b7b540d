package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

func line(ts time.Time, ip, ua, key string, body string) string {
	h := `{"User-Agent":"` + ua + `","X-Stainless-Lang":"python","api-key":"x","Content-Type":"application/json"}`
	if ua == "" {
		h = `{"host":"w","content-type":"application/json","api-key":"x"}`
	}
	return fmt.Sprintf(`{"ts":%q,"client_ip":%q,"method":"POST","path":"/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21","headers":%s,"body":%s,"key_id":%q,"key_owner":"acme"}`,
		ts.Format(time.RFC3339Nano), ip, h, body, key)
}

func TestReplayOutputAndActions(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	var in strings.Builder
	for i := range 200 {
		in.WriteString(line(t0.Add(time.Duration(i)*3*time.Minute), "198.51.100.7", "AzureOpenAI/Python 1.54.0", "k1",
			fmt.Sprintf(`{"messages":[{"role":"user","content":"question %d about the quarterly report"}],"max_tokens":300}`, i)) + "\n")
	}
	in.WriteString("not json\n")
	at := t0.Add(20 * time.Hour)
	for i := range 5 { // a stripped proxy with filled-in defaults
		in.WriteString(line(at.Add(time.Duration(i)*time.Second), "45.153.160.2", "", "k1",
			`{"messages":[{"role":"user","content":"*walks in* hello there traveller"}],"max_tokens":400,"temperature":1,"top_p":1,"presence_penalty":0,"frequency_penalty":0}`) + "\n")
	}
	var out bytes.Buffer
	bad := 0
	n, _, err := RunOffline(ctx, Setup{Store: db, Out: &out, Errors: func(int, error) { bad++ }}, strings.NewReader(in.String()))
	if err != nil || n != 205 || bad != 1 {
		t.Fatalf("n=%d bad=%d err=%v", n, bad, err)
	}
	var lines []Line
	for _, l := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		var x Line
		if err := json.Unmarshal(l, &x); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, x)
	}
	if lines[0].Type != "request" || lines[0].Line != 1 || lines[0].KeyID != "k1" || lines[0].Status != 200 {
		t.Errorf("first line %+v", lines[0])
	}
	var action *Line
	var after []int
	for i, l := range lines {
		if l.Type == "action" && action == nil {
			action = &lines[i]
			continue
		}
		if action != nil && l.Type == "request" {
			after = append(after, l.Status)
		}
	}
	if action == nil || action.Action != "step_up" || action.IncidentID == "" || action.Severity != "high" {
		t.Fatalf("no step-up: %+v", action)
	}
	for _, s := range after {
		if s != 403 {
			t.Errorf("request after step-up answered %d, want 403", s)
		}
	}
	k, err := db.KeyByID(ctx, "k1")
	if err != nil || k.Action != keys.ActionStepUp || k.Owner != "acme" || k.ActionUntil == nil {
		t.Errorf("key after replay: %+v %v", k, err)
	}
}
