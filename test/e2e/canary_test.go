package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestCanaryUseIsCriticalIncident: a decoy Azure key planted in a repo is
// used; the attacker gets a plausible answer from the tarpit, and the very
// first request opens a critical incident.
func TestCanaryUseIsCriticalIncident(t *testing.T) {
	w := Start(t)
	out, err := w.CLI("canary", "create", "--style", "azure", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ ID, Key string }
	if err := json.Unmarshal([]byte(out), &c); err != nil || len(c.Key) != 32 {
		t.Fatalf("canary: %s %v", out, err)
	}
	req, _ := http.NewRequest("POST", w.URL+"/openai/deployments/gpt-4o/chat/completions?api-version=2024-02-01",
		strings.NewReader(`{"max_tokens":1,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("api-key", c.Key)
	req.Header.Set("User-Agent", "axios/1.6.8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("the tarpit should answer plausibly, got %d", resp.StatusCode)
	}
	incs, err := w.CLI("incidents", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var list []struct {
		KeyID    string `json:"key_id"`
		Severity string `json:"severity"`
	}
	json.Unmarshal([]byte(incs), &list)
	if len(list) != 1 || list[0].KeyID != c.ID || list[0].Severity != "critical" {
		t.Errorf("incidents after one canary request: %s", incs)
	}
}
