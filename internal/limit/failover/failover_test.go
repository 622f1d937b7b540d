package failover

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/internal/limit"
	"github.com/wardenhq/warden/internal/limit/redis"
	"github.com/wardenhq/warden/internal/testenv"
)

func TestParsePolicy(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Policy
		ok   bool
	}{
		{"", Local, true}, {"closed", Closed, true}, {"open", Open, true}, {"local", Local, true},
		{"Closed", "", false}, {"fail-open", "", false},
	} {
		got, err := ParsePolicy(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParsePolicy(%q) = %q, %v", tt.in, got, err)
		}
	}
}

// Redis is reached through a proxy that the test switches off and on. While
// it is off, each policy decides as documented, errors are counted, and
// once it is back the shared limiter answers again, with no restart.
func TestPolicies(t *testing.T) {
	_, prefix := testenv.Redis(t)
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		policy Policy
		// while Redis is away, with a limit of 2/min: verdicts of 3 takes,
		// and whether a gate with max 1 admits
		takes []bool
		gate  bool
		err   error // what Take and Acquire return while Redis is away
		// verdicts of TakeAll of two takes of a 1/min bucket while Redis is away
		all []bool
	}{
		{Closed, []bool{false, false, false}, false, ErrUnavailable, nil},
		{Open, []bool{true, true, true}, true, nil, []bool{true, true}},
		{Local, []bool{true, true, false}, true, nil, []bool{true, false}},
	}
	for _, tt := range tests {
		t.Run(string(tt.policy), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			proxy := testenv.NewProxy(t, opt.Addr)
			o := *opt
			o.Addr = proxy.Addr()
			o.MaxRetries = -1
			o.DialTimeout = 200 * time.Millisecond
			c := redis.NewClient(&o)
			defer c.Close()
			rl := redislimit.New(c, redislimit.Options{Prefix: prefix + string(tt.policy) + ":"})
			defer rl.Close()
			var reported atomic.Int64
			l, err := New(rl, Options{Policy: tt.policy, Cooldown: 100 * time.Millisecond,
				OnError: func(string, error) { reported.Add(1) }})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Unix(1_800_000_000, 0)

			// Redis up: the shared bucket of 2 is used up.
			for i, want := range []bool{true, true, false} {
				if d, err := l.Take(ctx, "k", 2, 1, now); err != nil || d.Allowed != want {
					t.Fatalf("up, take %d: %+v %v", i, d, err)
				}
			}
			if l.Stats().Errors != 0 {
				t.Fatalf("errors while up: %+v", l.Stats())
			}

			// Redis away: the policy decides, on a fresh minute.
			proxy.Stop()
			later := now.Add(time.Hour)
			for i, want := range tt.takes {
				if d, err := l.Take(ctx, "k", 2, 1, later); !errors.Is(err, tt.err) || d.Allowed != want {
					t.Errorf("down, take %d: %+v %v, want allowed=%v", i, d, err, want)
				}
			}
			if d, err := l.Take(ctx, "k", 2, -1, later); err != nil || !d.Allowed {
				t.Errorf("down, give-back refused: %+v %v", d, err)
			}
			one := limit.Take{Bucket: "m", PerMinute: 1, N: 1}
			ds, err := l.TakeAll(ctx, []limit.Take{one, one}, later)
			var got []bool
			for _, d := range ds {
				got = append(got, d.Allowed)
			}
			if !errors.Is(err, tt.err) || !slices.Equal(got, tt.all) {
				t.Errorf("down, TakeAll: %v %v, want %v", got, err, tt.all)
			}
			release, ok, err := l.Acquire(ctx, "k", 1)
			if !errors.Is(err, tt.err) || ok != tt.gate {
				t.Errorf("down, acquire: %v %v, want %v", ok, err, tt.gate)
			}
			if ok {
				release()
			}
			st := l.Stats()
			if st.Errors == 0 || st.Degraded < 4 || reported.Load() != int64(st.Errors) || l.Healthy() {
				t.Errorf("down: stats %+v, reported %d, healthy %v", st, reported.Load(), l.Healthy())
			}

			// Redis back: after the cooldown the shared state answers again.
			proxy.Start()
			deadline := time.Now().Add(5 * time.Second)
			for {
				before := l.Stats().Errors
				d, err := l.Take(ctx, "k", 2, 0, now) // a zero take reads the shared bucket
				if err != nil {
					t.Fatal(err)
				}
				if l.Stats().Errors == before && l.Healthy() {
					if d.Remaining != 0 {
						t.Errorf("after recovery: %+v, want the shared bucket (empty)", d)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no recovery: %+v", l.Stats())
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// Starting with Redis unreachable (a closed port) must not stop Warden: the
// policy applies until Redis appears.
func TestStartsWithoutRedis(t *testing.T) {
	_, prefix := testenv.Redis(t)
	opt, _ := redis.ParseURL(testenv.RedisURL(t))
	proxy := testenv.NewProxy(t, opt.Addr)
	proxy.Stop()
	o := *opt
	o.Addr = proxy.Addr()
	c := redis.NewClient(&o)
	defer c.Close()
	rl := redislimit.New(c, redislimit.Options{Prefix: prefix})
	defer rl.Close()
	l, _ := New(rl, Options{Policy: Local, Cooldown: 50 * time.Millisecond, OnError: func(string, error) {}})
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	if d, err := l.Take(ctx, "k", 60, 1, now); err != nil || !d.Allowed || l.Stats().Errors != 1 {
		t.Fatalf("down: %+v %v %+v", d, err, l.Stats())
	}
	proxy.Start()
	time.Sleep(60 * time.Millisecond)
	if _, err := l.Take(ctx, "k", 60, 1, now); err != nil || l.Stats().Errors != 1 || !l.Healthy() {
		t.Fatalf("after start: %v %+v", err, l.Stats())
	}
}

// A caller whose own context has ended gets its error back; that is not a
// failure of the backend.
func TestCallerCancelIsNotAnOutage(t *testing.T) {
	_, prefix := testenv.Redis(t)
	c, _ := redislimit.NewClient(testenv.RedisURL(t))
	defer c.Close()
	rl := redislimit.New(c, redislimit.Options{Prefix: prefix})
	defer rl.Close()
	l, _ := New(rl, Options{Policy: Open})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Take(ctx, "k", 60, 1, time.Now()); err == nil {
		t.Error("no error for a cancelled caller")
	}
	if st := l.Stats(); st.Errors != 0 || !l.Healthy() {
		t.Errorf("cancel counted as outage: %+v", st)
	}
}
