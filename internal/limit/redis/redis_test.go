package redislimit

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/internal/limit"
	"github.com/wardenhq/warden/internal/testenv"
)

// newLimiter returns a limiter on its own client (one "instance").
func newLimiter(t *testing.T, prefix string, o Options) *Limiter {
	t.Helper()
	c, err := NewClient(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	o.Prefix = prefix
	l := New(c, o)
	t.Cleanup(func() { l.Close(); c.Close() })
	return l
}

// The Redis limiter must decide exactly as limit.Local on the same sequence
// of takes: same verdicts, same remaining, same retry and reset durations.
func TestMatchesLocal(t *testing.T) {
	t.Parallel()
	_, prefix := testenv.Redis(t)
	rl := newLimiter(t, prefix, Options{})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, perMinute := range []int{1, 7, 60, 1000, 123457, 10_000_000} {
		var local limit.Local
		key := "k" + time.Duration(perMinute).String()
		now := time.Unix(1_800_000_000, 123456789)
		for i := range 400 {
			now = now.Add(time.Duration(rng.Int64N(int64(3 * time.Minute / time.Duration(perMinute+1)))))
			if rng.IntN(20) == 0 {
				now = now.Add(time.Duration(rng.Int64N(int64(2 * time.Minute))))
			}
			var n int
			switch r := rng.IntN(10); {
			case r < 6:
				n = 1
			case r < 8:
				n = rng.IntN(perMinute+2) + 1
			case r < 9:
				n = -rng.IntN(perMinute + 1)
			default:
				n = []int{0, perMinute * 5000, -perMinute * 5000, perMinute + 1}[rng.IntN(4)]
			}
			want, _ := local.Take(ctx, key, perMinute, n, now)
			got, err := rl.Take(ctx, key, perMinute, n, now)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("limit %d, step %d (n=%d): redis %+v, local %+v", perMinute, i, n, got, want)
			}
		}
	}
}

// Three instances, each with its own client and three workers, share one
// 60 requests/minute limit over ten minutes of virtual time. The clock moves
// in steps of half a second; at each step all nine workers take at once
// with that step's time (a barrier between steps), so the race between
// instances is real while what they may admit is exact: no scheduling or
// machine load changes the outcome, as a clock read from elapsed real time
// did. After the first minute's burst, the admitted rate must be 60/min
// within ±5%.
func TestSharedAcrossInstances(t *testing.T) {
	t.Parallel()
	_, prefix := testenv.Redis(t)
	const (
		step      = 500 * time.Millisecond
		perMinute = 60
		minutes   = 10
	)
	var instances []*Limiter
	for range 3 {
		instances = append(instances, newLimiter(t, prefix, Options{}))
	}
	epoch := time.Unix(1_800_000_000, 0)
	end := epoch.Add(minutes * time.Minute)
	var burst, steady atomic.Int64
	perInstance := make([]atomic.Int64, len(instances))
	for now := epoch; now.Before(end); now = now.Add(step) {
		var wg sync.WaitGroup
		for i, l := range instances {
			for range 3 {
				wg.Go(func() {
					d, err := l.Take(context.Background(), "shared", perMinute, 1, now)
					if err != nil {
						t.Error(err)
						return
					}
					if d.Allowed {
						perInstance[i].Add(1)
						if now.Before(epoch.Add(time.Minute)) {
							burst.Add(1)
						} else {
							steady.Add(1)
						}
					}
				})
			}
		}
		wg.Wait()
		if t.Failed() {
			return
		}
	}
	// In all: the burst of 60 plus one unit a second, never more.
	total, most := burst.Load()+steady.Load(), int64(perMinute+perMinute*minutes+1)
	if total > most || float64(total) < 0.95*float64(most) {
		t.Errorf("admitted %d in %d minutes, want at most %d and within 5%%", total, minutes, most)
	}
	rate := float64(steady.Load()) / (minutes - 1)
	if rate < perMinute*0.95 || rate > perMinute*1.05 {
		t.Errorf("admitted %.1f/min across 3 instances, want %d ±5%%", rate, perMinute)
	}
	for i := range perInstance {
		if perInstance[i].Load() == 0 {
			t.Errorf("instance %d admitted nothing", i)
		}
	}
	t.Logf("steady rate %.1f/min; per instance %d %d %d", rate, perInstance[0].Load(), perInstance[1].Load(), perInstance[2].Load())
}

func TestServerTime(t *testing.T) {
	t.Parallel()
	_, prefix := testenv.Redis(t)
	l := newLimiter(t, prefix, Options{ServerTime: true})
	ctx := context.Background()
	wrong := time.Unix(0, 0) // must be ignored
	for i := range 10 {
		if d, err := l.Take(ctx, "k", 10, 1, wrong); err != nil || !d.Allowed {
			t.Fatalf("take %d: %+v %v", i, d, err)
		}
	}
	d, err := l.Take(ctx, "k", 10, 1, wrong)
	if err != nil || d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > 6*time.Second {
		t.Fatalf("11th take: %+v %v", d, err)
	}
}

func TestTakeArguments(t *testing.T) {
	t.Parallel()
	_, prefix := testenv.Redis(t)
	l := newLimiter(t, prefix, Options{})
	ctx := context.Background()
	if d, err := l.Take(ctx, "k", 0, 1<<40, time.Now()); err != nil || !d.Allowed {
		t.Errorf("unlimited: %+v %v", d, err)
	}
	if _, err := l.Take(ctx, "k", 2_000_000_000, 1, time.Now()); err == nil {
		t.Error("absurd limit accepted")
	}
}

// A concurrency limit of 2 holds across three instances.
func TestGateAcrossInstances(t *testing.T) {
	t.Parallel()
	_, prefix := testenv.Redis(t)
	ctx := context.Background()
	a, b, c := newLimiter(t, prefix, Options{}), newLimiter(t, prefix, Options{}), newLimiter(t, prefix, Options{})
	ra, ok1, err1 := a.Acquire(ctx, "k", 2)
	_, ok2, err2 := b.Acquire(ctx, "k", 2)
	_, ok3, err3 := c.Acquire(ctx, "k", 2)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal(err1, err2, err3)
	}
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("acquire: %v %v %v", ok1, ok2, ok3)
	}
	ra()
	ra() // a second release must not free another slot
	if _, ok, _ := c.Acquire(ctx, "k", 2); !ok {
		t.Fatal("slot not released")
	}
	if _, ok, _ := a.Acquire(ctx, "k", 2); ok {
		t.Fatal("double release freed two slots")
	}
	if rel, ok, err := a.Acquire(ctx, "other", 0); !ok || err != nil {
		t.Fatal("unlimited gate refused")
	} else {
		rel()
	}
}

// Many workers on three instances never exceed the limit together.
func TestGateUnderContention(t *testing.T) {
	t.Parallel()
	_, prefix := testenv.Redis(t)
	const max = 3
	var instances []*Limiter
	for range 3 {
		instances = append(instances, newLimiter(t, prefix, Options{}))
	}
	var inFlight, peak, admitted atomic.Int64
	var wg sync.WaitGroup
	for i := range 12 {
		l := instances[i%3]
		wg.Go(func() {
			for range 30 {
				release, ok, err := l.Acquire(context.Background(), "k", max)
				if err != nil {
					t.Error(err)
					return
				}
				if !ok {
					continue
				}
				admitted.Add(1)
				n := inFlight.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				time.Sleep(time.Millisecond)
				inFlight.Add(-1)
				release()
			}
		})
	}
	wg.Wait()
	if peak.Load() > max {
		t.Errorf("peak %d concurrent, limit %d", peak.Load(), max)
	}
	if admitted.Load() < max {
		t.Errorf("only %d admitted", admitted.Load())
	}
}

// An instance that dies holding slots gives them back within a lease; a live
// instance keeps its slots past the lease by renewing them.
func TestLeases(t *testing.T) {
	t.Parallel()
	_, prefix := testenv.Redis(t)
	ctx := context.Background()
	const lease = 600 * time.Millisecond
	crashed := newLimiter(t, prefix, Options{Lease: lease})
	alive := newLimiter(t, prefix, Options{Lease: lease})
	other := newLimiter(t, prefix, Options{Lease: lease})

	if _, ok, err := crashed.Acquire(ctx, "dead", 1); !ok || err != nil {
		t.Fatal("acquire", ok, err)
	}
	crashed.Close() // stops renewal without releasing: as good as kill -9
	release, ok, err := alive.Acquire(ctx, "live", 1)
	if !ok || err != nil {
		t.Fatal("acquire", ok, err)
	}
	defer release()

	time.Sleep(lease * 2)
	if _, ok, err := other.Acquire(ctx, "dead", 1); !ok || err != nil {
		t.Errorf("slot of a dead instance not freed after its lease: %v %v", ok, err)
	}
	if _, ok, err := other.Acquire(ctx, "live", 1); ok || err != nil {
		t.Errorf("renewed slot taken by another: %v %v", ok, err)
	}
}

// Connections killed on the server (CLIENT KILL) cost nothing lasting: the
// client reconnects and later calls succeed.
func TestRecoversFromClientKill(t *testing.T) {
	t.Parallel()
	admin, prefix := testenv.Redis(t)
	ctx := context.Background()
	opt, _ := redis.ParseURL(testenv.RedisURL(t))
	opt.ClientName = "warden-test-" + prefix[5:21]
	c := redis.NewClient(opt)
	defer c.Close()
	l := New(c, Options{Prefix: prefix})
	defer l.Close()
	now := time.Unix(1_800_000_000, 0)
	if _, err := l.Take(ctx, "k", 60, 1, now); err != nil {
		t.Fatal(err)
	}
	// Kill only this limiter's connections, found by name: the server is
	// shared with parallel tests.
	list, err := admin.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for line := range strings.Lines(list) {
		f := map[string]string{}
		for _, kv := range strings.Fields(line) {
			k, v, _ := strings.Cut(kv, "=")
			f[k] = v
		}
		if f["name"] == opt.ClientName {
			if err := admin.Do(ctx, "CLIENT", "KILL", "ID", f["id"]).Err(); err == nil {
				killed++
			}
		}
	}
	if killed == 0 {
		t.Fatal("no connection of the limiter found to kill")
	}
	var lastErr error
	for range 5 {
		if _, lastErr = l.Take(ctx, "k", 60, 1, now); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("no recovery after CLIENT KILL: %v", lastErr)
	}
}

func TestNewClient(t *testing.T) {
	c, err := NewClient("redis://127.0.0.1:6379/0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	o := c.Options()
	if o.DialTimeout != time.Second || o.ReadTimeout != 500*time.Millisecond || o.WriteTimeout != 500*time.Millisecond || !o.ContextTimeoutEnabled {
		t.Errorf("timeouts: dial %v read %v write %v ctx %v", o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.ContextTimeoutEnabled)
	}
	c2, err := NewClient("redis://127.0.0.1:6379/0?dial_timeout=3s&read_timeout=2s")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if o := c2.Options(); o.DialTimeout != 3*time.Second || o.ReadTimeout != 2*time.Second {
		t.Errorf("URL timeouts overridden: %v %v", o.DialTimeout, o.ReadTimeout)
	}
	if _, err := NewClient("redis://user:hunter2@[::1:6379/0"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad URL: %v", err)
	}
}
