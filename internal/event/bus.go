package event

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// A Sink consumes events. Handle must not modify e or keep it after it
// returns unless it copies it: the same *Event goes to every sink.
type Sink interface {
	Handle(ctx context.Context, e *Event)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(ctx context.Context, e *Event)

// Handle calls f(ctx, e).
func (f SinkFunc) Handle(ctx context.Context, e *Event) { f(ctx, e) }

// Bus fans events out to sinks. Sync sinks run on the request's goroutine
// before the answer is released (the audit log, which must be durable first,
// and the detector, whose decision must hold for the next request). Async
// sinks each get a bounded queue and their own goroutine, so a slow webhook
// never slows a request; when a queue is full the event is dropped for that
// sink and counted.
//
// A zero Bus publishes to nobody.
type Bus struct {
	sync  []Sink
	async []*queue

	dropped atomic.Int64
	wg      sync.WaitGroup
}

type queue struct {
	name string
	ch   chan *Event
	sink Sink
}

// AddSync registers a sink that runs inline. Call before Publish is used.
func (b *Bus) AddSync(s Sink) { b.sync = append(b.sync, s) }

// AddAsync registers a sink with its own queue of size n. Call before
// Publish is used; Close drains the queues.
func (b *Bus) AddAsync(name string, s Sink, n int) {
	if n <= 0 {
		n = 4096
	}
	q := &queue{name: name, ch: make(chan *Event, n), sink: s}
	b.async = append(b.async, q)
	b.wg.Add(1)
	go q.run(&b.wg)
}

// drainEvery is how often an async sink takes what queued up. The sink's
// goroutine sleeps on a timer rather than on the channel, so publishing an
// event never has to wake it: on a busy gateway that wake-up (a futex call
// on the request's goroutine) costs more than the event itself.
const drainEvery = 5 * time.Millisecond

func (q *queue) run(wg *sync.WaitGroup) {
	defer wg.Done()
	t := time.NewTicker(drainEvery)
	defer t.Stop()
	for range t.C {
		for {
			select {
			case e, ok := <-q.ch:
				if !ok {
					return // closed and drained
				}
				q.sink.Handle(context.Background(), e)
				continue
			default:
			}
			break
		}
	}
}

// Publish hands e to every sink. It returns after the sync sinks ran.
func (b *Bus) Publish(ctx context.Context, e *Event) {
	for _, s := range b.sync {
		s.Handle(ctx, e)
	}
	for _, q := range b.async {
		select {
		case q.ch <- e:
		default:
			if b.dropped.Add(1)%1000 == 1 {
				slog.Warn("event queue full, dropping events", "sink", q.name)
			}
		}
	}
}

// Dropped returns how many events async sinks missed because their queues were full.
func (b *Bus) Dropped() int64 { return b.dropped.Load() }

// Close stops the async sinks after they drained their queues. Publish must
// not be called after Close.
func (b *Bus) Close() {
	for _, q := range b.async {
		close(q.ch)
	}
	b.wg.Wait()
}
