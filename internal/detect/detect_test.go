package detect

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/store/sqlite/sqlitetest"
)

var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC) // a Monday

func sdkEvent(key string, at time.Time, i int) *event.Event {
	return &event.Event{
		ID: fmt.Sprintf("r%d", i), Time: at, KeyID: key, KeyOwner: "acme", KeyKind: "standard",
		ClientIP: "198.51.100.20", Method: "POST", Path: "/openai/deployments/gpt-4o/chat/completions", Endpoint: "chat.completions", Model: "gpt-4o",
		Client: event.Client{UserAgent: "AzureOpenAI/Python 1.54.0", HeaderNames: []string{"host", "user-agent", "x-stainless-lang", "api-key", "content-type"},
			SDKHeaders: true, SDKLang: "python", SDKVersion: "1.54.0", APIVersion: "2024-10-21"},
		Features: event.Features{Messages: 2, PromptChars: 400, ConvRoot: fmt.Sprintf("root%d", i%7), MaxTokens: 800},
		Status:   200, PromptTokens: 300, CompletionTokens: 200, CostUSD: 0.004,
	}
}

// warm sends a day of office traffic on key.
func warm(d *Detector, key string) time.Time {
	at := t0
	for i := range 200 {
		at = t0.Add(time.Duration(i) * 3 * time.Minute)
		d.Handle(context.Background(), sdkEvent(key, at, i))
	}
	return at
}

type recorder struct{ decs []Decision }

func newTestDetector(t *testing.T) (*Detector, *recorder) {
	t.Helper()
	r := &recorder{}
	d, err := New(Config{}, Options{OnDecision: func(_ context.Context, dec Decision) { r.decs = append(r.decs, dec) }})
	if err != nil {
		t.Fatal(err)
	}
	return d, r
}

func probe(key string, at time.Time, ip, path, method string, f event.Features, status int, code string) *event.Event {
	return &event.Event{Time: at, KeyID: key, KeyOwner: "acme", KeyKind: "standard", ClientIP: ip, Method: method, Path: path,
		Client:   event.Client{UserAgent: "python-requests/2.31.0", HeaderNames: []string{"host", "user-agent", "accept-encoding", "accept", "connection", "api-key", "content-type"}},
		Features: f, Status: status, ErrorCode: code}
}

func TestProbesOnEstablishedKey(t *testing.T) {
	d, r := newTestDetector(t)
	at := warm(d, "k1").Add(time.Hour)
	if len(r.decs) != 0 {
		t.Fatalf("legitimate warm-up raised %v", r.decs)
	}
	chat := "/openai/deployments/gpt-4o/chat/completions?api-version=2024-02-01"
	steps := []*event.Event{
		probe("k1", at, "203.0.113.9", chat, "POST", event.Features{EmptyPrompt: true, MaxTokens: 1, Messages: 1}, 200, ""),
		probe("k1", at.Add(2*time.Second), "203.0.113.9", "/openai/deployments?api-version=2022-12-01", "GET", event.Features{}, 200, ""),
		probe("k1", at.Add(4*time.Second), "203.0.113.9", chat, "POST", event.Features{EmptyPrompt: true, MaxTokens: 8200, Messages: 1}, 400, "context_length_exceeded"),
	}
	for i, e := range steps {
		d.Handle(context.Background(), e)
		if len(r.decs) > 0 {
			t.Logf("detected after %d probes: %+v", i+1, r.decs[len(r.decs)-1].Reason)
			break
		}
	}
	if len(r.decs) == 0 {
		t.Fatal("three probes from a new client went unnoticed")
	}
	d.Handle(context.Background(), steps[1])
	if last := r.decs[len(r.decs)-1]; last.Action != ActionStepUp {
		t.Errorf("last action %s, want step_up (%s)", last.Action, last.Reason)
	}
	if !d.StepUpAllows("k1", "198.51.100.77", FingerprintOf(sdkEvent("k1", at, 0).Client)) {
		t.Error("owner's network and client refused under step-up")
	}
	if d.StepUpAllows("k1", "203.0.113.9", FingerprintOf(steps[0].Client)) {
		t.Error("attacker allowed under step-up")
	}
}

func TestCanaryFirstUse(t *testing.T) {
	d, r := newTestDetector(t)
	e := probe("c1", t0, "203.0.113.9", "/v1/chat/completions", "POST", event.Features{PromptChars: 2, MaxTokens: 1}, 200, "")
	e.KeyKind = "canary"
	d.Handle(context.Background(), e)
	if len(r.decs) != 1 || r.decs[0].Severity != "critical" || r.decs[0].IncidentID == "" {
		t.Fatalf("decisions %+v", r.decs)
	}
	d.Handle(context.Background(), e)
	if len(r.decs) != 1 {
		t.Errorf("second canary use decided again: %d", len(r.decs))
	}
}

func TestMonitorOnNewKeyIsLearned(t *testing.T) {
	d, r := newTestDetector(t)
	for i := range 2000 {
		e := probe("m1", t0.Add(time.Duration(i)*5*time.Minute), "192.0.2.10", "/v1/chat/completions", "POST",
			event.Features{PromptChars: 2, MaxTokens: 1, Messages: 1, ConvRoot: "hi"}, 200, "")
		e.Client.UserAgent = "Go-http-client/1.1"
		d.Handle(context.Background(), e)
	}
	if len(r.decs) != 0 {
		t.Errorf("health monitor raised %+v", r.decs[0])
	}
}

func TestOneWeakSignalNeverSuspends(t *testing.T) {
	d, r := newTestDetector(t)
	at := warm(d, "k1")
	for i := range 500 {
		e := sdkEvent("k1", at.Add(time.Duration(i)*time.Second), i)
		e.Status, e.RetryAfter = 429, 20*time.Second
		d.Handle(context.Background(), e)
	}
	for _, dec := range r.decs {
		if dec.Action != ActionAlert {
			t.Errorf("retries alone led to %s", dec.Action)
		}
	}
}

func TestDeterministic(t *testing.T) {
	run := func() []Decision {
		d, r := newTestDetector(t)
		at := warm(d, "k1")
		for i := range 50 {
			e := sdkEvent("k1", at.Add(time.Duration(i)*time.Second), 1000+i)
			e.ClientIP, e.Client = "203.0.113.50", event.Client{HeaderNames: []string{"host", "content-type", "api-key"}}
			d.Handle(context.Background(), e)
		}
		return r.decs
	}
	a, b := run(), run()
	if len(a) == 0 || fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("runs differ or found nothing:\n%v\n%v", a, b)
	}
}

func BenchmarkHandle(b *testing.B) {
	d, _ := New(Config{}, Options{})
	evs := make([]*event.Event, 1000)
	for i := range evs {
		evs[i] = sdkEvent(fmt.Sprintf("key%d", i%100), t0.Add(time.Duration(i)*time.Second), i)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		e := evs[i%len(evs)]
		e.Time = t0.Add(time.Duration(i) * 100 * time.Millisecond)
		d.Handle(ctx, e)
	}
}

// BenchmarkMemory100kKeys measures the detector's memory for 100k keys.
// Each key gets traffic from many networks and clients, models and hours,
// so its capped sets are full: the worst case. Run with -benchtime=1x.
func BenchmarkMemory100kKeys(b *testing.B) {
	const nKeys = 100_000
	for b.Loop() {
		perKey := float64(heapGrowth(func() any {
			// Known networks: the profile fills up without raising signals, so
			// this measures profiles, not incidents (see BenchmarkIncidentMemory).
			d, _ := New(Config{Allow: Allow{KnownCIDRs: []string{"10.0.0.0/8"}}}, Options{})
			ctx := context.Background()
			e := sdkEvent("", t0, 0)
			for k := range nKeys {
				e.KeyID = fmt.Sprintf("key_%06d", k)
				for i := range 40 {
					e.Time = t0.Add(time.Duration(i) * 37 * time.Minute)
					e.ClientIP = fmt.Sprintf("10.%d.%d.1", i%20, k%250)
					e.Fingerprint = fmt.Sprintf("fp%d", i%20)
					e.Model = fmt.Sprintf("model-%d", i%14)
					e.Features.ConvRoot = fmt.Sprintf("r%d", i)
					e.Features.User = fmt.Sprintf("u%d", i)
					d.Handle(ctx, e)
				}
			}
			return d
		})) / nKeys
		b.ReportMetric(perKey, "bytes/key")
		b.ReportMetric(perKey*nKeys/(1<<20), "MiB/100k-keys")
	}
}

// BenchmarkHandleWithSignals measures a request that raises signals and
// keeps an incident up to date (the expensive path).
func BenchmarkHandleWithSignals(b *testing.B) {
	d, _ := New(Config{}, Options{})
	at := warm(d, "k1")
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e := sdkEvent("k1", at.Add(time.Duration(i)*time.Second), i)
		e.ClientIP, e.Client = "203.0.113.50", event.Client{HeaderNames: []string{"host", "content-type", "api-key"}}
		d.Handle(ctx, e)
	}
}

// BenchmarkIncidentMemory measures one open incident at its caps.
func BenchmarkIncidentMemory(b *testing.B) {
	const n = 1000
	for b.Loop() {
		grown := heapGrowth(func() any {
			d, _ := New(Config{}, Options{})
			ctx := context.Background()
			for k := range n {
				key := fmt.Sprintf("key_%06d", k)
				at := t0
				for i := range 40 {
					at = t0.Add(time.Duration(i) * 10 * time.Minute)
					d.Handle(ctx, sdkEvent(key, at, i))
				}
				for i := range 400 {
					e := sdkEvent(key, at.Add(time.Duration(i)*time.Second), i)
					e.ClientIP = fmt.Sprintf("203.0.%d.%d", i%200, i%250)
					e.Client = event.Client{HeaderNames: []string{"host", "content-type", "api-key"}}
					d.Handle(ctx, e)
				}
			}
			return d
		})
		b.ReportMetric(float64(grown)/n, "bytes/key-with-incident")
	}
}

// heapGrowth returns how much the live heap grew while build ran, counting
// what build returns (kept alive until measured) and not its garbage.
func heapGrowth(build func() any) uint64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	v := build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	return after.HeapAlloc - before.HeapAlloc
}

func TestUnfamiliarityAloneNeverContains(t *testing.T) {
	d, r := newTestDetector(t)
	at := warm(d, "k1").Add(30 * time.Hour)
	// A new batch job from a CI network with its own client, at night.
	for i := range 300 {
		e := sdkEvent("k1", at.Add(time.Duration(i)*2*time.Second), 5000+i)
		e.ClientIP = fmt.Sprintf("192.0.2.%d", i%200)
		e.Client = event.Client{UserAgent: fmt.Sprintf("batch-runner/%d", i%50), HeaderNames: []string{"host", "user-agent", "api-key"}}
		d.Handle(context.Background(), e)
	}
	for _, dec := range r.decs {
		if dec.Action != ActionAlert {
			t.Errorf("unfamiliar but well-behaved client led to %s: %s", dec.Action, dec.Reason)
		}
	}
	if len(r.decs) > 1 {
		t.Errorf("%d decisions, want at most one alert", len(r.decs))
	}
}

func TestProfilePersists(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	d1, _ := New(Config{}, Options{Store: db})
	at := warm(d1, "k1")
	if err := d1.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// A restarted detector knows the key: step-up admits the owner, and a
	// stranger's probe is noticed at once.
	r := &recorder{}
	d2, _ := New(Config{}, Options{Store: db, OnDecision: func(_ context.Context, dec Decision) { r.decs = append(r.decs, dec) }})
	d2.Handle(ctx, sdkEvent("k1", at.Add(time.Minute), 1))
	if !d2.StepUpAllows("k1", "198.51.100.20", FingerprintOf(sdkEvent("k1", at, 0).Client)) {
		t.Error("restarted detector forgot the owner's client")
	}
	d2.Handle(ctx, probe("k1", at.Add(2*time.Minute), "203.0.113.9", "/openai/deployments?api-version=2022-12-01", "GET", event.Features{}, 200, ""))
	d2.Handle(ctx, probe("k1", at.Add(3*time.Minute), "203.0.113.9", "/v1/chat/completions", "POST", event.Features{EmptyPrompt: true, MaxTokens: 1}, 200, ""))
	if len(r.decs) == 0 {
		t.Fatal("no decision after restart")
	}
	in, err := db.IncidentByID(ctx, r.decs[0].IncidentID)
	if err != nil || in.KeyID != "k1" || len(in.Timeline) == 0 {
		t.Errorf("incident not stored: %+v %v", in, err)
	}
}
