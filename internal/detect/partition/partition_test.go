package partition

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/internal/detect"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store/sqlite"
	"github.com/wardenhq/warden/internal/store/sqlite/sqlitetest"
	"github.com/wardenhq/warden/internal/testenv"
)

func TestOf(t *testing.T) {
	for _, c := range []struct {
		id   string
		want int
	}{
		{"key_a", Of("key_a")}, // stable across calls
		{"", 0xcbf29ce484222325 % Partitions},
	} {
		if got := Of(c.id); got != c.want || got < 0 || got >= Partitions {
			t.Errorf("Of(%q) = %d, want %d", c.id, got, c.want)
		}
	}
	var seen [Partitions]int
	for i := range 64 * 100 {
		seen[Of(fmt.Sprintf("key_%d", i))]++
	}
	for p, n := range seen {
		if n < 50 || n > 150 { // 100 expected; FNV spreads ids evenly
			t.Errorf("partition %d got %d of 6400 keys", p, n)
		}
	}
}

// node is one instance: a detector on the shared store and its Feed,
// driven by hand (maintain, read) instead of Run, so the test decides
// when each step happens.
type node struct {
	f    *Feed
	det  *detect.Detector
	mu   sync.Mutex
	decs []detect.Decision
}

func (n *node) decisions() []detect.Decision {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]detect.Decision(nil), n.decs...)
}

type env struct {
	t      *testing.T
	rdb    *redis.Client
	prefix string
	db     *sqlite.DB
}

func newEnv(t *testing.T, keyIDs ...string) *env {
	t.Helper()
	rdb, prefix := testenv.Redis(t)
	db := sqlitetest.Open(t)
	for _, id := range keyIDs {
		k := keys.FromSpec(keys.Spec{Name: id, Owner: "acme"}, keys.HashOf("secret-"+id), t0)
		k.ID = id
		if err := db.CreateKey(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	return &env{t: t, rdb: rdb, prefix: prefix, db: db}
}

func (e *env) node(lease time.Duration) *node {
	e.t.Helper()
	n := &node{}
	det, err := detect.New(detect.Config{}, detect.Options{Store: e.db, OnDecision: func(_ context.Context, d detect.Decision) {
		n.mu.Lock()
		n.decs = append(n.decs, d)
		n.mu.Unlock()
	}})
	if err != nil {
		e.t.Fatal(err)
	}
	n.det = det
	n.f = New(e.rdb, det, Options{Prefix: e.prefix, Lease: lease, Instance: "test", Logger: slog.New(slog.DiscardHandler)})
	e.t.Cleanup(n.f.Close)
	return n
}

// until calls step until cond holds, failing after ten seconds. It is how
// the tests wait for Redis (lease expiry, the producer's batch): on a
// condition, never a fixed sleep.
func until(t *testing.T, what string, cond func() bool, step func()) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		step()
	}
}

func owners(ns ...*node) (union uint64, counts []int) {
	for _, n := range ns {
		m := n.f.owned.Load()
		if union&m != 0 {
			return 0, nil // overlap: not settled (or broken)
		}
		union |= m
		counts = append(counts, n.f.Stats().Owned)
	}
	return union, counts
}

// Three instances share the partitions fairly and disjointly; when one
// stops renewing, its leases expire and the two others take them all.
func TestLeasesShareAndMove(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	lease := 400 * time.Millisecond
	ns := []*node{e.node(lease), e.node(lease), e.node(lease)}
	all := uint64(1<<Partitions - 1)
	round := func(ns []*node) func() {
		return func() {
			for _, n := range ns {
				if err := n.f.maintain(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	fair := func(ns []*node, share int) func() bool {
		return func() bool {
			union, counts := owners(ns...)
			if union != all {
				return false
			}
			for _, c := range counts {
				if c > share {
					return false
				}
			}
			return true
		}
	}
	until(t, "three fair shares", fair(ns, 22), round(ns))
	for i, n := range ns {
		if err := n.f.maintain(ctx); err != nil { // overlap checked inside owners
			t.Fatal(err)
		}
		if _, c := owners(ns...); c == nil {
			t.Fatalf("node %d: partitions owned twice", i)
		}
	}

	// ns[2] dies: no more heartbeats or renewals.
	until(t, "survivors owning everything", fair(ns[:2], 32), round(ns[:2]))
	if err := ns[2].f.renewAll(ctx); err != nil {
		t.Fatal(err)
	}
	if ns[2].f.Stats().Owned != 0 {
		t.Errorf("the dead instance still believes it owns %d partitions", ns[2].f.Stats().Owned)
	}
}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// traffic is an owner's day of SDK requests on key, then a thief's probes
// from another network: enough for the detector to contain the key.
func traffic(key string) []*event.Event {
	var out []*event.Event
	at := t0
	for i := range 120 {
		at = t0.Add(time.Duration(i) * 5 * time.Minute)
		out = append(out, &event.Event{ID: fmt.Sprintf("o%d", i), Time: at, KeyID: key, KeyOwner: "acme", KeyKind: "standard",
			ClientIP: "198.51.100.20", Method: "POST", Path: "/v1/chat/completions", Endpoint: "chat.completions", Model: "gpt-4o",
			Client:   event.Client{UserAgent: "OpenAI/Python 1.54.3", HeaderNames: []string{"host", "user-agent", "x-stainless-lang", "authorization"}, SDKHeaders: true, SDKLang: "python", SDKVersion: "1.54.3"},
			Features: event.Features{Messages: 2, PromptChars: 400, ConvRoot: fmt.Sprintf("root%d", i%7), MaxTokens: 800},
			Status:   200, PromptTokens: 300, CompletionTokens: 200, CostUSD: 0.004})
	}
	for i := range 30 {
		at = at.Add(2 * time.Second)
		out = append(out, &event.Event{ID: fmt.Sprintf("t%d", i), Time: at, KeyID: key, KeyOwner: "acme", KeyKind: "standard",
			ClientIP: "203.0.113.9", Method: "POST", Path: "/v1/chat/completions", Endpoint: "chat.completions", Model: "gpt-4o",
			Client:   event.Client{UserAgent: "python-requests/2.31.0", HeaderNames: []string{"host", "user-agent", "authorization"}},
			Features: event.Features{Messages: 1, EmptyPrompt: true, MaxTokens: 1}, Status: 200})
	}
	return out
}

// firstAction returns the id of the event at which the first key-changing
// decision was made.
func firstAction(decs []detect.Decision, evs []*event.Event) (string, bool) {
	for _, d := range decs {
		if d.Type() == "action" {
			for _, e := range evs {
				if e.Time.Equal(d.Time) {
					return e.ID, true
				}
			}
		}
	}
	return "", false
}

// produce hands evs to f's producer and waits until they are in Redis.
func produce(t *testing.T, f *Feed, evs []*event.Event) {
	t.Helper()
	want := f.Stats().Produced + int64(len(evs))
	for _, e := range evs {
		f.Handle(context.Background(), e)
	}
	until(t, "the producer's batch", func() bool { return f.Stats().Produced >= want }, func() { time.Sleep(time.Millisecond) })
	if f.Stats().Fallback != 0 {
		t.Fatalf("%d events fell back to the local detector", f.Stats().Fallback)
	}
}

// consume reads until n has handled want events in all.
func consume(t *testing.T, n *node, want int64) {
	t.Helper()
	until(t, "the owner to read", func() bool { return n.f.Stats().Handled >= want }, func() {
		if err := n.f.read(context.Background(), 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	})
	if got := n.f.Stats().Handled; got != want {
		t.Fatalf("handled %d events, want %d", got, want)
	}
}

// A partition handed over mid-attack (flush, cursor, release) goes on in
// the next owner as if one detector had seen everything: no event is
// handled twice or lost, and the key is contained at the same event as on
// a single detector fed directly.
func TestHandoverKeepsDetection(t *testing.T) {
	const key = "key_handover"
	evs := traffic(key)

	single := newEnv(t, key).node(time.Minute)
	for _, e := range evs {
		single.det.Handle(context.Background(), e)
	}
	want, ok := firstAction(single.decisions(), evs)
	if !ok {
		t.Fatal("the traffic does not contain the key on a single detector; the test needs an attack it catches")
	}

	e := newEnv(t, key)
	a, b := e.node(time.Minute), e.node(time.Minute)
	ctx := context.Background()
	if err := a.f.maintain(ctx); err != nil { // alone: takes all 64
		t.Fatal(err)
	}
	if !a.f.Owns(key) {
		t.Fatal("a single instance does not own every partition")
	}
	half := 0 // hand over two events before the action
	for i, ev := range evs {
		if ev.ID == want {
			half = i - 1
		}
	}
	if half < 2 {
		t.Fatalf("contained at %s, too early to hand over before", want)
	}
	produce(t, a.f, evs[:half])
	consume(t, a, int64(half))
	if _, ok := firstAction(a.decisions(), evs); ok {
		t.Fatalf("contained before the handover; move the handover earlier")
	}

	a.f.leaveAll(ctx)
	if err := b.f.maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if !b.f.Owns(key) || a.f.Owns(key) {
		t.Fatal("the partition did not move to b")
	}
	produce(t, a.f, evs[half:]) // a still produces; b consumes
	consume(t, b, int64(len(evs)-half))
	got, ok := firstAction(b.decisions(), evs)
	if !ok || got != want {
		t.Errorf("after the handover the key was contained at %q (%v), on one detector at %q", got, ok, want)
	}
}

// An event time that runs backwards within a partition is clamped to the
// latest one, so the detector's decay never runs backwards.
func TestClampsBackwardTime(t *testing.T) {
	e := newEnv(t)
	n := e.node(time.Minute)
	pt := &part{}
	at := func(ts time.Time) redis.XMessage {
		return redis.XMessage{ID: "1-0", Values: map[string]any{"e": fmt.Sprintf(`{"key_id":"k","ts":%q}`, ts.Format(time.RFC3339Nano))}}
	}
	n.f.handle(context.Background(), pt, at(t0.Add(time.Minute)))
	n.f.handle(context.Background(), pt, at(t0))
	if pt.last != t0.Add(time.Minute).UnixNano() {
		t.Errorf("latest event time %v, want %v", time.Unix(0, pt.last).UTC(), t0.Add(time.Minute))
	}
	n.f.handle(context.Background(), pt, redis.XMessage{ID: "2-0", Values: map[string]any{"e": "not json"}})
	if pt.cursor != "2-0" || n.f.Stats().Handled != 2 {
		t.Errorf("a malformed entry: cursor %q, handled %d; want it skipped past and not handled", pt.cursor, n.f.Stats().Handled)
	}
}

// With Redis unreachable, events go to the local detector at once (and
// are counted): a decoy key is still caught on the instance that saw it.
func TestRedisDownFallsBack(t *testing.T) {
	e := newEnv(t)
	n := e.node(time.Minute)
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { dead.Close() })
	f := New(dead, n.det, Options{Prefix: e.prefix, Timeout: 200 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(f.Close)
	canary := &event.Event{ID: "c", Time: t0, KeyID: "key_decoy", KeyKind: string(keys.KindCanary), ClientIP: "203.0.113.9", Status: 401}
	f.Handle(context.Background(), canary)
	until(t, "the fallback", func() bool { return f.Stats().Fallback >= 1 }, func() { time.Sleep(time.Millisecond) })
	f.Handle(context.Background(), canary) // within the cooldown: local at once
	if got := f.Stats(); got.Fallback != 2 || got.Produced != 0 {
		t.Errorf("stats %+v, want 2 fallen back and none produced", got)
	}
	if len(n.decisions()) == 0 {
		t.Error("the local detector made no decision on a decoy key")
	}
	if err := f.maintain(context.Background()); err == nil {
		t.Error("maintain with Redis down returned no error")
	}
}

// The Redis pool counts owners as the in-process one does, across
// instances (two Pools on one Redis), within the window only.
func TestPoolMatchesLocal(t *testing.T) {
	e := newEnv(t)
	opt := Options{Prefix: e.prefix, Logger: slog.New(slog.DiscardHandler)}
	shared := []*Pool{NewPool(e.rdb, opt), NewPool(e.rdb, opt)}
	local := detect.NewPool()
	const hour = int64(time.Hour)
	base := t0.UnixNano()
	steps := []struct {
		h, owner uint64
		at       int64
		want     int
	}{
		{1, 10, 0, 1},
		{1, 10, 1e9, 1},          // same owner again
		{1, 20, 2e9, 2},          // a second owner
		{2, 30, 3e9, 1},          // another value
		{1, 30, 4e9, 3},          // a third
		{1, 40, 2*hour + 5e9, 1}, // the others are out of the window
		{1, 10, 2*hour + 6e9, 2},
	}
	for i, s := range steps {
		p := shared[i%2]
		if got, l := p.Touch(s.h, s.owner, base+s.at, hour), local.Touch(s.h, s.owner, base+s.at, hour); got != s.want || l != s.want {
			t.Errorf("step %d: Redis pool %d, in-process %d, want %d", i, got, l, s.want)
		}
	}
	if n := shared[0].Fallback() + shared[1].Fallback(); n != 0 {
		t.Errorf("%d touches fell back to the local pool", n)
	}
}
