package redislimit

import (
	"context"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/testenv"
)

// BenchmarkTake measures one shared rate check: one EVALSHA round trip.
func BenchmarkTake(b *testing.B) {
	l := benchLimiter(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Take(ctx, "k", 1_000_000_000, 1, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAcquire measures taking and releasing one concurrency slot.
func BenchmarkAcquire(b *testing.B) {
	l := benchLimiter(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			release, ok, err := l.Acquire(ctx, "k", 1_000_000)
			if err != nil || !ok {
				b.Fatal(ok, err)
			}
			release()
		}
	})
}

// benchLimiter returns a limiter on the test Redis under a fresh prefix,
// closed when the benchmark run ends.
func benchLimiter(b *testing.B) *Limiter {
	c, prefix := testenv.Redis(b)
	l := New(c, Options{Prefix: prefix})
	b.Cleanup(func() { l.Close() })
	return l
}
