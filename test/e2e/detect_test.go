package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// TestLiveServerContainsStolenKey: an app uses its key through the official
// SDK from its office network; the key leaks and a key checker probes it
// from elsewhere. The running server contains the key by itself, and the
// owner's app keeps working.
func TestLiveServerContainsStolenKey(t *testing.T) {
	// Learning periods shrunk from hours to a second, so the test needs no
	// day of history; the logic is the production one.
	cfg := writeConfig(t, "detect:\n  learning: {min_requests: 20, min_age: 1s, known_requests: 3, known_after: 1s}\n")
	w := Start(t, "--trusted-proxies", "127.0.0.0/8", "--config", cfg)
	id, key := w.CreateKey("--name", "office-app", "--owner", "team-a")
	owner := client(w, key, option.WithHeader("X-Forwarded-For", "198.51.100.7"))
	ask := func(c openai.Client) error {
		_, err := c.Chat.Completions.New(ctx(t), openai.ChatCompletionNewParams{Model: "mock-echo",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Summarise the plot of Hamlet in one sentence.")}})
		return err
	}
	for i := range 30 {
		if err := ask(owner); err != nil {
			t.Fatalf("owner request %d: %v", i, err)
		}
		if i == 9 {
			time.Sleep(1500 * time.Millisecond) // the owner's client becomes known
		}
	}
	// The key checker: python-requests, api-key header, empty prompt, 1 token.
	probe := func() int {
		req, _ := http.NewRequest("POST", w.URL+"/openai/deployments/mock-echo/chat/completions?api-version=2024-02-01",
			strings.NewReader(`{"max_tokens":1,"stream":false,"messages":[{"role":"user","content":""}]}`))
		req.Header.Set("api-key", key)
		req.Header.Set("User-Agent", "python-requests/2.31.0")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", "185.220.101.34")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	contained := -1
	for i := 1; i <= 5; i++ {
		if st := probe(); st != 200 {
			contained = i
			break
		}
	}
	if contained < 0 || contained > 3 {
		t.Fatalf("probes not contained within 3 requests (first refusal at %d)\n%s", contained, w.Log())
	}
	if err := ask(owner); err != nil {
		t.Errorf("the owner's app was punished: %v", err)
	}
	out, err := w.CLI("keys", "get", id, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var k struct{ Status, Action string }
	json.Unmarshal([]byte(out), &k)
	if k.Action == "" && k.Status == "active" {
		t.Errorf("key shows no containment: %s", out)
	}
	incs, err := w.CLI("incidents", "list", "--json")
	if err != nil || !strings.Contains(incs, id) {
		t.Fatalf("no incident for the key: %s %v", incs, err)
	}
	var list []struct{ ID string }
	json.Unmarshal([]byte(incs), &list)
	// The evidence: an offline-verifiable bundle of everything the key did.
	bundle := t.TempDir() + "/evidence.zip"
	if out, err := w.CLI("audit", "export", "--incident", list[0].ID, "--out", bundle); err != nil {
		t.Fatalf("export: %v %s", err, out)
	}
	out, err = w.CLI("audit", "verify-bundle", bundle)
	if err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("verify-bundle: %v %s", err, out)
	}
}
