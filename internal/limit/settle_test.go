package limit

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// counted is a Local that counts its takes.
type counted struct {
	Local
	takes atomic.Int64
}

func (c *counted) Take(ctx context.Context, key string, perMinute, n int, now time.Time) (Decision, error) {
	c.takes.Add(1)
	return c.Local.Take(ctx, key, perMinute, n, now)
}

// Settlements through Batched leave every bucket where taking them one by
// one leaves it, in far fewer takes, whether Close or the background flush
// applies them.
func TestBatchedSettles(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	const perMinute = 10000
	settlements := []struct {
		key string
		n   int
	}{
		{"tpm:a", -300}, {"tpm:a", 120}, {"tpm:b", -50}, {"tpm:a", -7}, {"tpm:b", 400}, {"tpm:c", 0},
	}
	for _, flushBy := range []string{"close", "background"} {
		t.Run(flushBy, func(t *testing.T) {
			var direct Local
			inner := &counted{}
			// Long enough that every settlement is queued before the
			// first flush, however slow the machine.
			b := NewBatched(inner, 200*time.Millisecond)
			for _, k := range []string{"tpm:a", "tpm:b"} { // both spend first, as requests do
				direct.Take(ctx, k, perMinute, 5000, t0)
				b.Take(ctx, k, perMinute, 5000, t0)
			}
			before := inner.takes.Load()
			var wg sync.WaitGroup
			for i, s := range settlements {
				at := t0.Add(time.Duration(i) * time.Millisecond)
				direct.Take(ctx, s.key, perMinute, s.n, at)
				wg.Go(func() { Settle(ctx, b, s.key, perMinute, s.n, at) })
			}
			wg.Wait()
			if flushBy == "close" {
				b.Close()
			} else {
				deadline := time.Now().Add(10 * time.Second)
				for inner.takes.Load() < before+2 && time.Now().Before(deadline) { // one flush, two buckets
					time.Sleep(time.Millisecond)
				}
				defer b.Close()
			}
			if got := inner.takes.Load() - before; got != 2 {
				t.Errorf("%d takes for %d settlements on two buckets", got, len(settlements))
			}
			at := t0.Add(time.Second)
			for _, k := range []string{"tpm:a", "tpm:b"} {
				want, _ := direct.Take(ctx, k, perMinute, 0, at)
				got, _ := inner.Local.Take(ctx, k, perMinute, 0, at)
				if got.Remaining != want.Remaining {
					t.Errorf("%s: %d remaining after batched settlements, %d after direct ones", k, got.Remaining, want.Remaining)
				}
			}
		})
	}
}

// A rater that is not a Settler takes a settlement at once; a closed
// Batched too.
func TestSettleDirect(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, name := range []string{"local", "closed batched"} {
		t.Run(name, func(t *testing.T) {
			inner := &counted{}
			var r Rater = inner
			if name == "closed batched" {
				b := NewBatched(inner, time.Hour)
				b.Close()
				r = b
			}
			r.Take(ctx, "k", 100, 100, t0)
			Settle(ctx, r, "k", 100, -40, t0)
			d, _ := inner.Local.Take(ctx, "k", 100, 0, t0)
			if d.Remaining != 40 {
				t.Errorf("remaining %d after spending 100 and settling 40 back, want 40", d.Remaining)
			}
		})
	}
}
