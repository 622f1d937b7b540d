package event

import (
	"context"
	"sync"
	"testing"
)

// recorder is a sink that keeps the ids it saw.
type recorder struct {
	mu  sync.Mutex
	ids []string
}

func (r *recorder) Handle(_ context.Context, e *Event) {
	r.mu.Lock()
	r.ids = append(r.ids, e.ID)
	r.mu.Unlock()
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...)
}

func TestSyncSubscribersRunBeforePublishReturnsInOrder(t *testing.T) {
	var b Bus
	var order []string
	b.Subscribe("first", SinkFunc(func(_ context.Context, e *Event) { order = append(order, "first:"+e.ID) }), Sync)
	b.Subscribe("second", SinkFunc(func(_ context.Context, e *Event) { order = append(order, "second:"+e.ID) }), Sync)
	b.Publish(context.Background(), &Event{ID: "a"})
	if want := []string{"first:a", "second:a"}; len(order) != 2 || order[0] != want[0] || order[1] != want[1] {
		t.Fatalf("order = %v, want %v", order, want)
	}
	b.Close()
}

func TestAsyncSubscriberGetsEveryEventByClose(t *testing.T) {
	var b Bus
	r := &recorder{}
	sub := b.Subscribe("async", r, Async(100))
	for _, id := range []string{"a", "b", "c"} {
		b.Publish(context.Background(), &Event{ID: id})
	}
	b.Close() // drains
	if got := r.seen(); len(got) != 3 || got[0] != "a" || got[2] != "c" {
		t.Fatalf("seen %v, want a b c in order", got)
	}
	if sub.Dropped() != 0 {
		t.Fatalf("dropped %d, want 0", sub.Dropped())
	}
}

// TestFullQueueDropsForThatSubscriberOnly blocks one async subscriber so
// its queue fills, and checks that the drop is counted on it alone while a
// synchronous subscriber still sees everything.
func TestFullQueueDropsForThatSubscriberOnly(t *testing.T) {
	var b Bus
	release := make(chan struct{})
	entered := make(chan struct{})
	var once sync.Once
	slow := SinkFunc(func(context.Context, *Event) {
		once.Do(func() { close(entered) })
		<-release
	})
	sync1 := &recorder{}
	slowSub := b.Subscribe("slow", slow, Async(2))
	syncSub := b.Subscribe("sync", sync1, Sync)

	b.Publish(context.Background(), &Event{ID: "0"})
	<-entered // the slow sink holds event 0; its queue is empty again
	for i := 1; i <= 5; i++ {
		b.Publish(context.Background(), &Event{ID: string(rune('0' + i))})
	}
	// Queue of 2: events 1 and 2 queued, 3, 4 and 5 dropped.
	if got := slowSub.Dropped(); got != 3 {
		t.Fatalf("slow subscriber dropped %d, want 3", got)
	}
	if got := b.Dropped(); got != 3 {
		t.Fatalf("bus dropped %d, want 3", got)
	}
	if syncSub.Dropped() != 0 || len(sync1.seen()) != 6 {
		t.Fatalf("sync subscriber saw %d events, dropped %d; want 6, 0", len(sync1.seen()), syncSub.Dropped())
	}
	close(release)
	b.Close()
}

func TestZeroBusPublishesToNobody(t *testing.T) {
	var b Bus
	b.Publish(context.Background(), &Event{ID: "x"})
	if b.Dropped() != 0 || len(b.Subscriptions()) != 0 {
		t.Fatal("zero bus should have no subscribers")
	}
	b.Close()
}

func TestAsyncDefaultsQueueSize(t *testing.T) {
	for _, n := range []int{0, -1} {
		if d := Async(n); d.queue != 4096 {
			t.Errorf("Async(%d).queue = %d, want 4096", n, d.queue)
		}
	}
	if d := Async(7); d.queue != 7 {
		t.Errorf("Async(7).queue = %d", d.queue)
	}
}
