package detect

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/incident"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store/sqlite"
	"github.com/wardenhq/warden/internal/store/sqlite/sqlitetest"
)

// storeDetector is a detector on a fresh SQLite store holding the given keys.
func storeDetector(t *testing.T, ks ...*keys.Key) (*Detector, *recorder, *sqlite.DB) {
	t.Helper()
	ctx := context.Background()
	db := sqlitetest.Open(t)
	for _, k := range ks {
		if err := db.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	r := &recorder{}
	d, err := New(Config{}, Options{Keys: db, Store: db, OnDecision: func(_ context.Context, dec Decision) { r.decs = append(r.decs, dec) }})
	if err != nil {
		t.Fatal(err)
	}
	return d, r, db
}

func testKey(id, from string) *keys.Key {
	k := keys.FromSpec(keys.Spec{Name: id, Owner: "acme"}, keys.HashOf("secret-"+id), t0)
	k.ID, k.RotatedFrom = id, from
	return k
}

// curlTry is a developer trying a fresh key: tiny prompts with few tokens.
func curlTry(key, ip string, at time.Time, text string) *event.Event {
	return &event.Event{Time: at, KeyID: key, KeyOwner: "acme", KeyKind: "standard", ClientIP: ip, Method: "POST",
		Path: "/openai/deployments/gpt-4o-mini/chat/completions", Endpoint: "chat.completions", Model: "gpt-4o-mini",
		Client:   event.Client{UserAgent: "curl/8.5.0", HeaderNames: []string{"host", "user-agent", "accept", "api-key", "content-type"}},
		Features: event.Features{Messages: 1, PromptChars: len(text), EmptyPrompt: text == "", MaxTokens: 5, ConvRoot: text}, Status: 200}
}

// checker is the key checker's sequence of the threat model (steps 2-4).
func checker(key string, at time.Time) []*event.Event {
	chat := "/openai/deployments/gpt-4o/chat/completions?api-version=2024-02-01"
	return []*event.Event{
		probe(key, at, "185.220.101.34", chat, "POST", event.Features{EmptyPrompt: true, MaxTokens: 1, Messages: 1}, 200, ""),
		probe(key, at.Add(2*time.Second), "185.220.101.34", "/openai/deployments?api-version=2022-12-01", "GET", event.Features{}, 200, ""),
		probe(key, at.Add(4*time.Second), "185.220.101.34", chat, "POST", event.Features{EmptyPrompt: true, MaxTokens: 8200, Messages: 1}, 400, "context_length_exceeded"),
	}
}

func TestNewKeyWarmUp(t *testing.T) {
	tries := []string{"hi", "test", "hi", "ping", "ok", "yo", "hey", "1"}
	cases := []struct {
		name     string
		leaked   bool // an open incident exists before the first request
		stranger bool // the checker comes first... from a client that is not the first
		want     func(t *testing.T, decs []Decision)
	}{
		{name: "first client's tiny prompts are the owner's", want: func(t *testing.T, decs []Decision) {
			if len(decs) != 0 {
				t.Errorf("a developer trying a new key raised %d decisions, first: %s", len(decs), decs[0].Reason)
			}
		}},
		{name: "reported leaked: the first client is not trusted", leaked: true, want: func(t *testing.T, decs []Decision) {
			if len(decs) == 0 {
				t.Error("probes on a key reported leaked went unnoticed")
			}
		}},
		{name: "a checker after the owner is caught within 3 probes", stranger: true, want: func(t *testing.T, decs []Decision) {
			if len(decs) == 0 || decs[0].Action == ActionAlert && len(decs) < 2 {
				t.Fatalf("checker on a new key: %v", decs)
			}
			contained := false
			for _, d := range decs {
				contained = contained || d.Action == ActionThrottle || d.Action == ActionStepUp
			}
			if !contained {
				t.Errorf("three probe shapes from a stranger did not contain the key: %v", decs)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			d, r, db := storeDetector(t, testKey("new1", ""))
			if c.leaked {
				in := incident.FromLeak(incident.Leak{KeyID: "new1", Where: "github.com/x/y/.env:3", By: "scanner", At: t0.Add(-time.Minute)})
				in.Action = "alert" // reported, not (yet) revoked
				if err := db.PutIncident(ctx, in); err != nil {
					t.Fatal(err)
				}
			}
			at := t0
			for i, txt := range tries {
				if c.leaked && i == 0 {
					txt = "" // the checker's empty prompt
				}
				d.Handle(ctx, curlTry("new1", "100.64.77.5", at, txt))
				at = at.Add(20 * time.Second)
			}
			if c.stranger {
				for i, e := range checker("new1", at.Add(time.Minute)) {
					d.Handle(ctx, e)
					if i == 2 && len(r.decs) == 0 {
						t.Errorf("no decision after 3 probes")
					}
				}
			}
			c.want(t, r.decs)
		})
	}
}

// TestNewKeySecondClient: on a key still in cold start, a second client's
// tiny prompts are a developer or a monitor (no containment), its empty
// prompts are a key checker (detected within 3 requests, contained within 5).
func TestNewKeySecondClient(t *testing.T) {
	cases := []struct {
		name        string
		text        string
		wantContain bool
	}{
		{"tiny prompts from the developer's laptop", "hi", false},
		{"empty prompts from a checker", "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			d, r, _ := storeDetector(t, testKey("new2", ""))
			for i := range 10 { // the app's server is the first client
				d.Handle(ctx, sdkEvent("new2", t0.Add(time.Duration(i)*time.Minute), i))
			}
			at := t0.Add(20 * time.Minute)
			n, detected := 0, 0
			for n = 1; n <= 12; n++ {
				e := curlTry("new2", "185.220.101.34", at.Add(time.Duration(n)*5*time.Second), c.text)
				e.Client.UserAgent = "python-requests/2.31.0"
				e.Features.MaxTokens = 1
				d.Handle(ctx, e)
				if detected == 0 && len(r.decs) > 0 {
					detected = n
				}
				if firstAction(r.decs) != "" {
					break
				}
			}
			switch {
			case c.wantContain && (detected == 0 || detected > 3 || n > 5):
				t.Errorf("checker detected at request %d (goal 3), contained at %d (goal 5): %v", detected, n, r.decs)
			case !c.wantContain && firstAction(r.decs) != "":
				t.Errorf("tiny prompts alone contained the key: %v", r.decs)
			}
		})
	}
}

func TestRotationInheritsKnownClients(t *testing.T) {
	ctx := context.Background()
	d, r, _ := storeDetector(t, testKey("k1", ""), testKey("k2", "k1"))
	at := warm(d, "k1")
	// The app switches to k2 from the same servers: nothing to see.
	for i := range 50 {
		e := sdkEvent("k2", at.Add(time.Duration(i+1)*time.Minute), 10000+i)
		if i%2 == 1 {
			e.ClientIP = "198.51.100.21" // the second server of the same network
		}
		d.Handle(ctx, e)
	}
	if len(r.decs) != 0 {
		t.Fatalf("rotation successor raised %v", r.decs)
	}
	owner := FingerprintOf(sdkEvent("k2", at, 0).Client)
	if !d.StepUpAllows("k2", "198.51.100.30", owner) {
		t.Error("successor does not know its predecessor's client")
	}
	// A checker on the successor meets an established profile at once.
	for _, e := range checker("k2", at.Add(2*time.Hour)) {
		d.Handle(ctx, e)
	}
	if act := firstAction(r.decs); act != ActionStepUp {
		t.Fatalf("checker on the successor: first action %q, want step_up (the owner keeps working): %v", act, r.decs)
	}
	if !d.StepUpAllows("k2", "198.51.100.20", owner) || d.StepUpAllows("k2", "185.220.101.34", FingerprintOf(checker("k2", at)[0].Client)) {
		t.Error("step-up on the successor lets the wrong client through")
	}
}

// TestLegitimateShapesStayClean: traffic of the legitimate profiles of the
// threat model raises nothing.
func TestLegitimateShapesStayClean(t *testing.T) {
	sdk := sdkEvent("x", t0, 0).Client
	upgraded := sdk
	upgraded.UserAgent, upgraded.SDKVersion, upgraded.APIVersion = "AzureOpenAI/Python 1.55.3", "1.55.3", "2025-01-01"
	cases := []struct {
		name string
		ev   func(i int, at time.Time) *event.Event
		n    int
		gap  time.Duration
	}{
		{"five regions on one SDK", func(i int, at time.Time) *event.Event {
			e := sdkEvent("k", at, i)
			e.ClientIP = []string{"198.51.100.20", "192.0.2.130", "198.18.0.10", "198.18.64.10", "198.19.0.10"}[i%5]
			return e
		}, 2000, 40 * time.Second},
		{"SDK upgrade on the same network", func(i int, at time.Time) *event.Event {
			e := sdkEvent("k", at, i)
			e.Client = upgraded
			return e
		}, 500, 30 * time.Second},
		{"nightly batch burst", func(i int, at time.Time) *event.Event {
			e := sdkEvent("k", at.Add(16*time.Hour), i)
			e.Features.ConvRoot = fmt.Sprintf("ticket-%d", i)
			return e
		}, 3000, 300 * time.Millisecond},
		{"health monitor saying hi", func(i int, at time.Time) *event.Event {
			e := curlTry("k", "192.0.2.200", at, "hi")
			e.Client.UserAgent = "Go-http-client/1.1"
			return e
		}, 600, 5 * time.Minute},
		{"developer with curl from home", func(i int, at time.Time) *event.Event {
			return curlTry("k", "100.64.12.34", at, []string{"hi", "explain this stack trace please, it fails in main"}[min(i, 1)])
		}, 30, 2 * time.Minute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, r := newTestDetector(t)
			at := t0
			for i := range 200 { // the app's own day first
				at = t0.Add(time.Duration(i) * 3 * time.Minute)
				e := sdkEvent("k", at, i)
				if c.name == "developer with curl from home" || c.name == "health monitor saying hi" {
					e = c.ev(0, at)
					e.ClientIP = "198.51.100.10" // the office
				}
				d.Handle(context.Background(), e)
			}
			for i := range c.n {
				d.Handle(context.Background(), c.ev(i, at.Add(time.Duration(i+1)*c.gap)))
			}
			for _, dec := range r.decs {
				t.Errorf("%s: %s", dec.Action, dec.Reason)
			}
		})
	}
}

// TestAttackPhasesCaught: each attack phase on an established key is
// contained within its budget of requests or time.
func TestAttackPhasesCaught(t *testing.T) {
	stripped := event.Client{HeaderNames: []string{"host", "content-type", "api-key"}}
	spoof := event.Client{UserAgent: "AzureOpenAI/Python 1.30.1", HeaderNames: []string{"host", "user-agent", "x-stainless-lang", "api-key", "content-type"},
		SDKHeaders: true, SDKLang: "python", SDKVersion: "1.30.1", APIVersion: "2024-06-01"}
	one := 1.0
	zero := 0.0
	cases := []struct {
		name    string
		ev      func(i int, at time.Time) *event.Event
		gap     time.Duration
		maxReqs int
	}{
		{"resale through a reverse proxy", func(i int, at time.Time) *event.Event {
			e := sdkEvent("k", at, 20000+i)
			e.ClientIP, e.Client, e.Model = "45.153.160.2", stripped, "gpt-4-32k"
			e.Features.Temperature, e.Features.TopP, e.Features.PresencePen, e.Features.FrequencyPen = &one, &one, &zero, &zero
			e.Features.ConvRoot = fmt.Sprintf("card-%d", i)
			return e
		}, 5 * time.Second, 60}, // 5 simulated minutes
		{"low and slow from a home network with a spoofed SDK", func(i int, at time.Time) *event.Event {
			e := sdkEvent("k", at, 30000+i)
			e.ClientIP, e.Client = "100.80.45.9", spoof
			e.Features.Temperature, e.Features.TopP, e.Features.PresencePen, e.Features.FrequencyPen = &one, &one, &zero, &zero
			e.Features.ConvRoot = fmt.Sprintf("story-%d", i)
			return e
		}, 7 * time.Minute, 100},
		{"de3u image abuse", func(i int, at time.Time) *event.Event {
			e := sdkEvent("k", at, 40000+i)
			e.ClientIP = "91.92.240.17"
			e.Client = event.Client{UserAgent: "axios/1.6.2", HeaderNames: []string{"host", "user-agent", "content-type", "authorization", "api-key"}, BothAuth: true}
			e.Model, e.Endpoint, e.Features = "dall-e-3", "images.generations", event.Features{ImageQuality: "hd", ImageSize: "1792x1024", Phrases: []string{"de3u_verbatim"}, PromptChars: 200}
			return e
		}, 20 * time.Second, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, r := newTestDetector(t)
			at := warm(d, "k").Add(13 * time.Hour)
			n := 0
			for n = 1; n <= c.maxReqs; n++ {
				d.Handle(context.Background(), c.ev(n, at.Add(time.Duration(n)*c.gap)))
				if len(r.decs) > 0 && r.decs[len(r.decs)-1].Action != ActionAlert {
					break
				}
			}
			if n > c.maxReqs {
				t.Fatalf("not contained within %d requests: %v", c.maxReqs, r.decs)
			}
			t.Logf("contained after %d requests: %s", n, r.decs[len(r.decs)-1].Reason)
		})
	}
}

// firstAction is the first decision that changed the key ("" if none).
func firstAction(decs []Decision) string {
	for _, d := range decs {
		if d.Action != ActionAlert {
			return d.Action
		}
	}
	return ""
}

// TestRotationOverlapIsNotPooling: during the overlap of a rotation the same
// conversations run on both keys, even on keys without an owner, from a
// client the successor has not seen yet; that is not a pool of stolen keys.
func TestRotationOverlapIsNotPooling(t *testing.T) {
	ctx := context.Background()
	k1, k2 := testKey("r1", ""), testKey("r2", "r1")
	k1.Owner, k2.Owner = "", ""
	d, r, _ := storeDetector(t, k1, k2)
	at := t0
	for i := range 200 {
		at = t0.Add(time.Duration(i) * 3 * time.Minute)
		e := sdkEvent("r1", at, i)
		e.KeyOwner = ""
		d.Handle(ctx, e)
	}
	for i := range 300 { // overlap: both keys, the same conversations, a new server too
		for _, key := range []string{"r1", "r2"} {
			e := sdkEvent(key, at.Add(time.Duration(i)*10*time.Second), 100000+i)
			e.KeyOwner, e.Features.ConvRoot = "", fmt.Sprintf("shared-%d", i%20)
			if i%3 == 0 {
				e.ClientIP = "203.0.113.77"
			}
			d.Handle(ctx, e)
		}
	}
	for _, dec := range r.decs {
		t.Errorf("%s on %s: %s", dec.Action, dec.KeyID, dec.Reason)
	}
}
