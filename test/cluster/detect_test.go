package cluster

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sender is one client of a key: its network (faked with X-Forwarded-For,
// which the servers believe from 127.0.0.0/8), its headers and its body.
type sender struct {
	key, xff, ua string
	sdk          bool // sends the OpenAI SDK's x-stainless-* headers
	body         string
}

const (
	sdkBody   = `{"model":"mock-echo","max_tokens":200,"temperature":0.2,"messages":[{"role":"system","content":"You are the helpdesk assistant of Example Corp."},{"role":"user","content":"How do I reset my VPN token?"}]}`
	probeBody = `{"model":"mock-echo","max_tokens":1,"stream":false,"messages":[{"role":"user","content":""}]}`
)

func (s sender) send(t *testing.T, in *instance) int {
	req, err := http.NewRequest("POST", in.URL+"/v1/chat/completions", strings.NewReader(s.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.ua)
	req.Header.Set("X-Forwarded-For", s.xff)
	if s.sdk {
		req.Header.Set("X-Stainless-Lang", "python")
		req.Header.Set("X-Stainless-Package-Version", "1.54.3")
		req.Header.Set("X-Stainless-Runtime", "CPython")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// probeUntilRefused sends probes to the instances chosen by pick until one
// is refused, and returns how many were answered before that.
func probeUntilRefused(t *testing.T, c *cluster, s sender, pick func(i int) int) int {
	t.Helper()
	const bound = 60
	for i := range bound {
		st := s.send(t, c.all[pick(i)])
		switch st {
		case 200:
		case 403:
			return i
		default:
			t.Fatalf("probe %d: status %d", i, st)
		}
	}
	t.Fatalf("key not contained after %d probes", bound)
	return bound
}

// A stolen key whose probes are spread round robin over three instances is
// contained within a bounded number of requests, and the containment holds
// on every instance: the thief is refused everywhere while the owner's own
// client keeps working everywhere (step-up).
//
// What the test pins down about detection across instances (see
// docs/detector-state.md): each instance scores the events it sees itself,
// so a signal that accumulates per event (probe shapes here) contains a key
// after at most instances times as many requests as on one instance; the
// decision then holds cluster-wide because it is written to the shared key
// record. Key A, probed through one instance only, gives the one-instance
// figure on the same cluster.
func TestStolenKeySpreadOverInstances(t *testing.T) {
	// A client is known on a key after known_requests requests spread over
	// known_after (whole minutes, so 1s means at once): the owner sends 12
	// per instance, the thief never gets near 12 on any instance before he
	// is contained, so he stays unknown, as he would over the real 10 minutes.
	c := startClusterWith(t, 3, options{
		config: "detect:\n  learning:\n    known_requests: 12\n    known_after: 1s\n",
		args:   []string{"--trusted-proxies", "127.0.0.0/8"},
	})
	_, keyA := c.createKey(0, "--name", "one-instance")
	idB, keyB := c.createKey(0, "--name", "spread")
	owner := func(key string) sender {
		return sender{key: key, xff: "10.1.0.5", ua: "OpenAI/Python 1.54.3", sdk: true, body: sdkBody}
	}
	thief := func(key string) sender {
		return sender{key: key, xff: "203.0.113.9", ua: "python-requests/2.31.0", body: probeBody}
	}

	// The owner's SDK traffic: key A through instance 0, key B round robin,
	// so that every instance that serves B learns B's owner.
	for i := range 36 {
		if st := owner(keyA).send(t, c.all[0]); i < 12 && st != 200 {
			t.Fatalf("owner A request %d: %d", i, st)
		}
		if st := owner(keyB).send(t, c.all[i%3]); st != 200 {
			t.Fatalf("owner B request %d: %d", i, st)
		}
	}

	one := probeUntilRefused(t, c, thief(keyA), func(int) int { return 0 })
	spread := probeUntilRefused(t, c, thief(keyB), func(i int) int { return i % 3 })
	t.Logf("contained after %d probes through one instance, %d spread over three", one, spread)
	// +3: a decision made on one instance reaches the others through Redis
	// while the next probes are already on their way.
	if spread > 3*one+3 {
		t.Errorf("spread probes contained after %d, want at most 3 x %d (+3)", spread, one)
	}

	// Containment is cluster-wide: every instance refuses the thief and
	// serves the owner (the decision travels through the key record).
	deadline := time.Now().Add(10 * time.Second)
	for i, in := range c.all {
		for {
			th, ow := thief(keyB).send(t, in), owner(keyB).send(t, in)
			if th == 403 && ow == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("instance %d: thief %d, owner %d; want 403 and 200", i, th, ow)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// The incidents are in the shared store: any instance lists them. Each
	// instance that saw signals keeps its own incident for the key (their
	// own view of the attack: the one that contained it says step_up, the
	// others may say alert), so there is one to three of them.
	var incs []struct {
		KeyID  string `json:"key_id"`
		Action string `json:"action"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(c.cli(2, "incidents", "list", "--key", idB, "--json")), &incs); err != nil {
		t.Fatal(err)
	}
	steppedUp := 0
	for _, in := range incs {
		if in.KeyID != idB || in.Status != "open" {
			t.Errorf("incident %+v, want an open one of %s", in, idB)
		}
		if in.Action == "step_up" {
			steppedUp++
		}
	}
	if steppedUp == 0 || len(incs) > len(c.all) {
		t.Errorf("incidents of the spread key through instance 2: %+v, want 1-3 with a step_up among them", incs)
	}
}
