package clock

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestVirtual(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	v := NewVirtual(t0)
	steps := []struct {
		name string
		do   func()
		want time.Time
	}{
		{"starts where told", func() {}, t0},
		{"advance", func() { v.Advance(90 * time.Second) }, t0.Add(90 * time.Second)},
		{"set forward", func() { v.Set(t0.Add(time.Hour)) }, t0.Add(time.Hour)},
		{"set back", func() { v.Set(t0.Add(time.Minute)) }, t0.Add(time.Minute)},
	}
	for _, s := range steps {
		s.do()
		if got := v.Now(); !got.Equal(s.want) {
			t.Fatalf("%s: Now() = %v, want %v", s.name, got, s.want)
		}
	}
}

func TestWallMoves(t *testing.T) {
	before := time.Now()
	if got := (Wall{}).Now(); got.Before(before) {
		t.Fatalf("Wall.Now() = %v, before %v", got, before)
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("Sleep: %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep on an ended context: %v, want context.Canceled", err)
	}
}

// Every calls fn on each tick and returns once stop is closed (here by fn
// itself on its third call; a tick already due may still run after that).
func TestEvery(t *testing.T) {
	stop := make(chan struct{})
	calls := 0
	Every(time.Millisecond, stop, func() {
		if calls++; calls == 3 {
			close(stop)
		}
	})
	if calls < 3 {
		t.Fatalf("returned after %d calls, before stop was closed", calls)
	}
}

// Linger calls fn once a kick came and the wait passed, not at all while
// none comes, and once more when it stops.
func TestLinger(t *testing.T) {
	kick, stop, done := make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	var calls atomic.Int64
	go func() {
		defer close(done)
		Linger(kick, 20*time.Millisecond, stop, func() { calls.Add(1) })
	}()
	kick <- struct{}{} // as its users do: once, for the first of a batch
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(60 * time.Millisecond) // no kick: no call
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d calls for one kick and a quiet spell, want 1", n)
	}
	close(stop)
	<-done
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d calls after stop, want 2 (the last for what was left)", n)
	}
}
