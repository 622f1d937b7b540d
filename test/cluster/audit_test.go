package cluster

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// chatID sends one chat completion and returns the status and the request
// id the gateway answered with (X-Request-Id, the event id in the audit log).
func chatID(in *instance, key string) (int, string) {
	resp, err := postChat(in, key, `{"model":"mock-echo","messages":[{"role":"user","content":"hello audit"}]}`, nil)
	if err != nil {
		return 0, "" // the killed instance: no answer
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, "" // cut off mid-answer: not answered
	}
	return resp.StatusCode, resp.Header.Get("X-Request-Id")
}

// auditEventIDs reads the whole audit log through instance i's admin API
// and returns the event id of every entry, by index.
func (c *cluster) auditEventIDs(i int) []string {
	c.t.Helper()
	tok, err := os.ReadFile(filepath.Join(c.all[i].Data, "admin.token"))
	if err != nil {
		c.t.Fatal(err)
	}
	var ids []string
	for page := 0; page < 10000; page++ { // bounded: 10 million entries
		u := fmt.Sprintf("%s/admin/v1/audit/entries?from=%d&limit=1000", c.all[i].AdminURL, len(ids))
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		resp, err := httpClient.Do(req)
		if err != nil {
			c.t.Fatal(err)
		}
		var entries []struct {
			Index int64
			Event struct{ ID string }
		}
		err = json.NewDecoder(resp.Body).Decode(&entries)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			c.t.Fatalf("audit entries: %d %v", resp.StatusCode, err)
		}
		if len(entries) == 0 {
			return ids
		}
		for _, e := range entries {
			if e.Index != int64(len(ids)) {
				c.t.Fatalf("audit entries: index %d after %d entries", e.Index, len(ids))
			}
			ids = append(ids, e.Event.ID)
		}
	}
	c.t.Fatal("audit entries: too many pages")
	return nil
}

// kill -9 of one instance under load loses no answered request: every
// request that got a 200, from any instance, the killed one included, is in
// the shared audit log, and the log (entries, hashes and the checkpoints
// all three signed) verifies afterwards.
func TestKillLosesNoAnsweredRequest(t *testing.T) {
	c := startCluster(t, 3)
	_, key := c.createKey(0, "--name", "audited")
	const victim = 2
	var (
		mu       sync.Mutex
		answered = map[string]int{} // request id -> instance that answered 200
		perInst  [3]atomic.Int64
		failed   atomic.Int64
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	for w := range 6 {
		wg.Go(func() {
			for i := 0; i < 5000; i++ { // bounded; stop ends it much sooner
				select {
				case <-stop:
					return
				default:
				}
				n := (w + i) % 3
				st, id := chatID(c.all[n], key)
				if st != 200 || id == "" {
					failed.Add(1)
					time.Sleep(20 * time.Millisecond)
					continue
				}
				perInst[n].Add(1)
				mu.Lock()
				if prev, dup := answered[id]; dup {
					t.Errorf("request id %s answered by instances %d and %d", id, prev, n)
				}
				answered[id] = n
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	// Kill the victim once it has answered a fair share, not at a fixed time:
	// a loaded machine may take a while to get going.
	deadline := time.Now().Add(60 * time.Second)
	for perInst[victim].Load() < 50 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.all[victim].Cmd.Process.Kill(); err != nil { // SIGKILL: no drain, no final checkpoint
		t.Fatal(err)
	}
	c.all[victim].Wait() // killed: its exit error is expected
	before := perInst[0].Load() + perInst[1].Load()
	for perInst[0].Load()+perInst[1].Load() < before+100 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("answered 200: %d, %d, %d (instance %d killed); %d failed", perInst[0].Load(), perInst[1].Load(), perInst[2].Load(), victim, failed.Load())
	if perInst[victim].Load() == 0 || perInst[0].Load()+perInst[1].Load() <= before {
		t.Fatalf("load did not reach the instances before and after the kill:\n%s", c.all[victim].Log())
	}

	ids := c.auditEventIDs(0)
	inLog := make(map[string]bool, len(ids))
	for i, id := range ids {
		if inLog[id] {
			t.Errorf("event %s appears twice in the log (second at %d)", id, i)
		}
		inLog[id] = true
	}
	missing := 0
	for id, n := range answered {
		if !inLog[id] {
			missing++
			if missing <= 5 {
				t.Errorf("request %s was answered 200 by instance %d but is not in the audit log", id, n)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d answered requests missing from the audit log of %d entries", missing, len(answered), len(ids))
	}

	// A checkpoint signed now by a survivor covers every entry, those of
	// the dead instance included, after checking the tree against the
	// periodic checkpoints the others signed.
	c.cli(1, "audit", "checkpoint")
	out := c.cli(1, "audit", "verify", "--json")
	var res struct {
		Size        int64 `json:"size"`
		Checkpoints int   `json:"checkpoints"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("audit verify printed %q: %v", out, err)
	}
	if res.Size < int64(len(answered)) || res.Checkpoints == 0 {
		t.Errorf("audit verify: %d entries, %d checkpoints; want at least %d entries and a checkpoint", res.Size, res.Checkpoints, len(answered))
	}
	t.Logf("audit log: %d entries, %d checkpoints verified", res.Size, res.Checkpoints)

	// The same verification offline, straight from PostgreSQL with the
	// cluster's verifier key: no server involved.
	// The data dir holds the cluster's audit.pub, the published verifier key.
	cmd := exec.Command(c.bin, "audit", "verify", "--json", "--store", c.dsn, "--origin", c.origin,
		"--signing-key", c.auditKey, "--data", filepath.Dir(c.auditKey))
	offline, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("offline audit verify: %v %s", err, offline)
	}
	var res2 struct {
		Size int64 `json:"size"`
	}
	if err := json.Unmarshal(offline, &res2); err != nil || res2.Size < res.Size {
		t.Errorf("offline verify: %s (%v), want at least %d entries", offline, err, res.Size)
	}
}
