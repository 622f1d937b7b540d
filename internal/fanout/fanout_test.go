package fanout

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/postgres"
	"github.com/wardenhq/warden/internal/store/sqlite/sqlitetest"
	"github.com/wardenhq/warden/internal/store/storetest"
	"github.com/wardenhq/warden/internal/testenv"
)

// recorder collects what a watcher reports.
type recorder struct {
	mu   sync.Mutex
	ids  map[string]int
	seen chan struct{} // gets a token after every report
}

func newRecorder() *recorder { return &recorder{ids: map[string]int{}, seen: make(chan struct{}, 1)} }

func (r *recorder) changed(ids []string) {
	r.mu.Lock()
	for _, id := range ids {
		r.ids[id]++
	}
	r.mu.Unlock()
	select {
	case r.seen <- struct{}{}:
	default: // a token is already waiting
	}
}

func (r *recorder) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ids[id]
}

// waitFor waits until id has been reported, and returns how long it took.
func (r *recorder) waitFor(t *testing.T, id string, within time.Duration) time.Duration {
	t.Helper()
	return r.waitCount(t, id, 1, within)
}

// waitCount waits, woken by each report rather than by polling, until id
// has been reported n times; within only bounds a broken watcher.
func (r *recorder) waitCount(t *testing.T, id string, n int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for r.count(id) < n {
		select {
		case <-r.seen:
		case <-deadline.C:
			t.Fatalf("change of %s reported %d times within %v, want %d", id, r.count(id), within, n)
		}
	}
	return time.Since(start)
}

func run(t *testing.T, w *Watcher) *recorder {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := newRecorder()
	done := make(chan error)
	go func() { done <- w.Run(ctx, r.changed) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

// revision returns the store's current change revision.
func revision(t *testing.T, s store.Keys) int64 {
	t.Helper()
	var rev int64
	for {
		ids, now, err := s.KeysChangedSince(context.Background(), rev)
		if err != nil {
			t.Fatal(err)
		}
		rev = now
		if len(ids) == 0 {
			return rev
		}
	}
}

// subscriptions counts the watcher's (re)subscriptions, for
// Options.Subscribed.
type subscriptions chan struct{}

func (c subscriptions) done() { c <- struct{}{} }

// wait waits for the next (re)subscription; within bounds a broken watcher.
func (c subscriptions) wait(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(within):
		t.Fatalf("the watcher did not subscribe within %v", within)
	}
}

func openPostgres(t *testing.T, dsn string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Instance A revokes a key; instance B hears of it over pub/sub long before
// its poll (set to an hour here, so only pub/sub can deliver).
func TestPubSubDelivers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	rdb, prefix := testenv.Redis(t)
	a, b := openPostgres(t, dsn), openPostgres(t, dsn)
	k, _ := storetest.NewKey(t, "victim")
	if err := a.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	channel := prefix + "keys"
	subs := make(subscriptions, 8)
	r := run(t, NewWatcher(b, rdb, Options{Channel: channel, Poll: time.Hour, Since: revision(t, b), Subscribed: subs.done}))
	subs.wait(t, 10*time.Second)

	sa := Notify(a, NewPublisher(rdb, channel), nil)
	start := time.Now()
	if _, err := sa.UpdateKey(ctx, k.ID, func(k *keys.Key) error { k.Status = keys.StatusRevoked; return nil }); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, k.ID, time.Second)
	t.Logf("revocation reached the other instance in %v", time.Since(start))
}

// With pub/sub cut, the poll still delivers every change; when Redis is
// back, pub/sub delivers again.
func TestPollCatchesLostNotices(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	_, prefix := testenv.Redis(t)
	opt, _ := redis.ParseURL(testenv.RedisURL(t))
	a, b := openPostgres(t, dsn), openPostgres(t, dsn)

	proxy := testenv.NewProxy(t, opt.Addr)
	o := *opt
	o.Addr = proxy.Addr()
	sub := redis.NewClient(&o) // the watcher's Redis goes through the proxy
	defer sub.Close()
	pubClient := redis.NewClient(opt)
	defer pubClient.Close()
	channel := prefix + "keys"
	subs := make(subscriptions, 8)
	r := run(t, NewWatcher(b, sub, Options{Channel: channel, Poll: 300 * time.Millisecond, Since: revision(t, b), Subscribed: subs.done}))
	sa := Notify(a, NewPublisher(pubClient, channel), nil)
	subs.wait(t, 10*time.Second)

	proxy.Stop()
	k1, _ := storetest.NewKey(t, "while-down")
	if err := sa.CreateKey(ctx, k1); err != nil {
		t.Fatal(err)
	}
	t.Logf("by poll: %v", r.waitFor(t, k1.ID, 2*time.Second))

	proxy.Start()
	subs.wait(t, 30*time.Second) // resubscribed after its backoff
	k2, _ := storetest.NewKey(t, "after")
	if err := sa.CreateKey(ctx, k2); err != nil {
		t.Fatal(err)
	}
	t.Logf("after recovery: %v", r.waitFor(t, k2.ID, 2*time.Second))
}

// Without Redis, processes sharing one SQLite file find each other's
// changes by polling.
func TestPollOnlySQLite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	a := sqlitetest.OpenDir(t, dir)
	b := sqlitetest.OpenDir(t, dir)
	old, _ := storetest.NewKey(t, "before-run")
	if err := a.CreateKey(ctx, old); err != nil {
		t.Fatal(err)
	}
	// The caller's cache is in step with the store as of now: Since says so
	// (with Since 0 the watcher would find the revision itself when it
	// starts, racing with the CreateKey below).
	_, rev, err := b.KeysChangedSince(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, NewWatcher(b, nil, Options{Poll: 50 * time.Millisecond, Since: rev}))
	k, _ := storetest.NewKey(t, "k")
	if err := a.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, k.ID, 2*time.Second)
	if err := a.DeleteKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	r.waitCount(t, k.ID, 2, 10*time.Second) // create, then delete
	if r.count(old.ID) != 0 {
		t.Error("a change from before Run was reported")
	}
}

// Notify publishes successful changes only.
func TestNotify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb, prefix := testenv.Redis(t)
	db := sqlitetest.Open(t)
	channel := prefix + "keys"
	ps := rdb.Subscribe(ctx, channel)
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil { // subscription confirmed
		t.Fatal(err)
	}
	var s store.Store = Notify(db, NewPublisher(rdb, channel), nil)
	k, _ := storetest.NewKey(t, "a")
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	s.UpdateKey(ctx, k.ID, func(*keys.Key) error { return errors.New("no") }) // failed: no notice
	s.DeleteKey(ctx, "key_missing")                                           // failed: no notice
	if err := s.DeleteKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		msg, err := ps.ReceiveTimeout(ctx, 2*time.Second)
		if err != nil {
			t.Fatalf("notice %d: %v", i, err)
		}
		m, ok := msg.(*redis.Message)
		if !ok {
			t.Fatalf("notice %d: %T", i, msg)
		}
		ids, err := decodeNotice([]byte(m.Payload))
		if err != nil || len(ids) != 1 || ids[0] != k.ID {
			t.Fatalf("notice %d: %q %v", i, m.Payload, err)
		}
	}
	if msg, err := ps.ReceiveTimeout(ctx, 200*time.Millisecond); err == nil {
		t.Errorf("unexpected notice %v", msg)
	}
}

func TestDecodeNotice(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{`{"ids":["key_a","key_b"]}`, true},
		{`{"ids":[]}`, true},
		{`{"ids":[""]}`, false},
		{`{"ids":["` + strings.Repeat("x", maxIDLen+1) + `"]}`, false},
		{`{"ids":"key_a"}`, false},
		{`not json`, false},
		{strings.Repeat(" ", maxNoticeBytes+1), false},
	}
	for _, tt := range tests {
		if _, err := decodeNotice([]byte(tt.in)); (err == nil) != tt.ok {
			t.Errorf("decodeNotice(%.40q): %v", tt.in, err)
		}
	}
}

func FuzzDecodeNotice(f *testing.F) {
	f.Add([]byte(`{"ids":["key_a"]}`))
	f.Add([]byte(`{"ids":null}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ids, err := decodeNotice(b)
		if err != nil {
			return
		}
		if len(ids) > maxNoticeIDs {
			t.Fatalf("%d ids accepted", len(ids))
		}
		for _, id := range ids {
			if id == "" || len(id) > maxIDLen {
				t.Fatalf("bad id %q accepted", id)
			}
		}
		again, err := encodeNotice(ids)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := decodeNotice(again); err != nil || len(back) != len(ids) {
			t.Fatalf("round trip: %v %v", back, err)
		}
	})
}
