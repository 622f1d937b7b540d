package redislimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/testenv"
)

// BenchmarkTake measures one shared rate check: one EVALSHA round trip.
func BenchmarkTake(b *testing.B) {
	benchParallel(b, func(ctx context.Context, l *Limiter) error {
		_, err := l.Take(ctx, "k", 1_000_000_000, 1, time.Now())
		return err
	})
}

// BenchmarkAcquire measures taking and releasing one concurrency slot.
func BenchmarkAcquire(b *testing.B) {
	benchParallel(b, func(ctx context.Context, l *Limiter) error {
		release, ok, err := l.Acquire(ctx, "k", 1_000_000)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("no slot free")
		}
		release()
		return nil
	})
}

// benchParallel runs op in parallel on a limiter on the test Redis under a
// fresh prefix, closed when the benchmark run ends; an error of op fails it.
func benchParallel(b *testing.B, op func(context.Context, *Limiter) error) {
	c, prefix := testenv.Redis(b)
	l := New(c, Options{Prefix: prefix})
	b.Cleanup(func() { l.Close() })
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(ctx, l); err != nil {
				b.Error(err) // not Fatal: this is not the benchmark's goroutine
				return
			}
		}
	})
}
