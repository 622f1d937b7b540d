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
	"github.com/wardenhq/warden/internal/limit/limittest"
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
// of takes: same verdicts, same remaining, same retry and reset durations;
// one take at a time, and several in one TakeAll.
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
	takeAllMatchesLocal(t, ctx, rl, rng)
}

// Three instances, each with its own client and three workers, share one
// 60 requests/minute limit for ten minutes of virtual time. Time advances in
// steps of 250 ms that every worker takes part in, concurrently, so each
// step is a race of nine takes at one instant, and the limit must decide it
// as one limiter would: the number admitted at every step equals what
// limit.Local admits for nine takes at that instant, and in all that is the
// burst of 60 plus one a second.
func TestSharedAcrossInstances(t *testing.T) {
	t.Parallel()
	_, prefix := testenv.Redis(t)
	const (
		perMinute = 60
		workers   = 3 // per instance
		step      = 250 * time.Millisecond
		steps     = int(10 * time.Minute / step)
	)
	var instances []*Limiter
	for range 3 {
		instances = append(instances, newLimiter(t, prefix, Options{}))
	}
	epoch := time.Unix(1_800_000_000, 0)
	ctx := context.Background()
	var local limit.Local
	perInstance := make([]atomic.Int64, len(instances))
	total := 0
	for k := range steps {
		now := epoch.Add(time.Duration(k) * step)
		var admitted atomic.Int64
		var wg sync.WaitGroup
		for i, l := range instances {
			for range workers {
				wg.Go(func() {
					d, err := l.Take(ctx, "shared", perMinute, 1, now)
					if err != nil {
						t.Error(err)
						return
					}
					if d.Allowed {
						admitted.Add(1)
						perInstance[i].Add(1)
					}
				})
			}
		}
		wg.Wait()
		want := 0
		for range len(instances) * workers {
			if d, _ := local.Take(ctx, "shared", perMinute, 1, now); d.Allowed {
				want++
			}
		}
		if got := int(admitted.Load()); got != want {
			t.Fatalf("step %d (%s): the instances admitted %d of %d takes, one limiter admits %d",
				k, time.Duration(k)*step, got, len(instances)*workers, want)
		}
		total += want
	}
	if most := perMinute + perMinute*10; total < most-1 || total > most {
		t.Errorf("admitted %d in ten minutes, want the burst of %d plus one a second (%d)", total, perMinute, most)
	}
	for i := range perInstance {
		if perInstance[i].Load() == 0 {
			t.Errorf("instance %d admitted nothing", i)
		}
	}
	t.Logf("admitted %d; per instance %d %d %d", total, perInstance[0].Load(), perInstance[1].Load(), perInstance[2].Load())
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
	limittest.Gate(t, newLimiter(t, prefix, Options{}), newLimiter(t, prefix, Options{}), newLimiter(t, prefix, Options{}))
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

// takeAllMatchesLocal: TakeAll, one script over several buckets, decides
// exactly as the same takes made one at a time on limit.Local: same
// decisions, and the same stop at the first refusal (the buckets after it
// untouched).
func takeAllMatchesLocal(t *testing.T, ctx context.Context, rl *Limiter, rng *rand.Rand) {
	var local limit.Local
	buckets := []limit.Take{{Bucket: "rpm", PerMinute: 5}, {Bucket: "tpm", PerMinute: 300}, {Bucket: "none"}, {Bucket: "img", PerMinute: 2}}
	now := time.Unix(1_800_000_000, 987654321)
	refusals := 0
	for i := range 600 {
		now = now.Add(time.Duration(rng.Int64N(int64(4 * time.Second))))
		var takes []limit.Take
		for _, b := range buckets {
			if rng.IntN(3) == 0 {
				continue
			}
			b.N = 1
			if b.PerMinute > 5 {
				b.N = rng.IntN(120) - 10 // sometimes a give-back
			}
			takes = append(takes, b)
		}
		want, err := limit.TakeEach(ctx, &local, takes, now)
		if err != nil {
			t.Fatal(err)
		}
		got, err := rl.TakeAll(ctx, takes, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("step %d, takes %+v: redis made %d takes, local %d", i, takes, len(got), len(want))
		}
		for j := range want {
			if got[j] != want[j] {
				t.Fatalf("step %d, take %d of %+v: redis %+v, local %+v", i, j, takes, got[j], want[j])
			}
		}
		if len(want) > 0 && !want[len(want)-1].Allowed {
			refusals++
		}
	}
	if refusals < 50 {
		t.Fatalf("only %d of 600 steps ended in a refusal: the sequence does not exercise the stop", refusals)
	}
}
