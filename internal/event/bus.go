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

// Delivery says how a subscriber receives events: inline (Sync) or from a
// bounded queue (Async).
type Delivery struct {
	queue int // 0: synchronous
}

// Sync delivers on the publisher's goroutine, before Publish returns: for
// consumers whose effect must hold for the very next request (the
// detector, whose decisions authorize reads) or that must be done before
// the answer leaves.
var Sync = Delivery{}

// Async delivers from a queue of n events (n <= 0: 4096) drained by the
// subscriber's own goroutine: for consumers that may be slow (alert
// webhooks, files, the live view). When the queue is full the event is
// dropped for that subscriber alone and counted.
func Async(n int) Delivery {
	if n <= 0 {
		n = 4096
	}
	return Delivery{queue: n}
}

// Bus hands every published event to every subscriber. Subscribe is the one
// way to consume events; a zero Bus publishes to nobody.
type Bus struct {
	subs []*Subscription
	wg   sync.WaitGroup
}

// Subscription is one consumer of a Bus.
type Subscription struct {
	name    string
	sink    Sink
	ch      chan *Event // nil: synchronous
	dropped atomic.Int64
}

// Name returns the name the subscriber was registered with.
func (s *Subscription) Name() string { return s.name }

// Dropped returns how many events this subscriber missed because its queue
// was full (always 0 for a synchronous one).
func (s *Subscription) Dropped() int64 { return s.dropped.Load() }

// Subscribe registers s under name with delivery d. Call it before the
// first Publish; Close drains asynchronous subscribers.
func (b *Bus) Subscribe(name string, s Sink, d Delivery) *Subscription {
	sub := &Subscription{name: name, sink: s}
	if d.queue > 0 {
		sub.ch = make(chan *Event, d.queue)
		b.wg.Add(1)
		go sub.run(&b.wg)
	}
	b.subs = append(b.subs, sub)
	return sub
}

// drainEvery is how often an async subscriber takes what queued up. Its
// goroutine sleeps on a timer rather than on the channel, so publishing an
// event never has to wake it: on a busy gateway that wake-up (a futex call
// on the request's goroutine) costs more than the event itself.
const drainEvery = 20 * time.Millisecond

func (s *Subscription) run(wg *sync.WaitGroup) {
	defer wg.Done()
	t := time.NewTicker(drainEvery)
	defer t.Stop()
	for range t.C {
		for {
			select {
			case e, ok := <-s.ch:
				if !ok {
					return // closed and drained
				}
				s.sink.Handle(context.Background(), e)
				continue
			default:
			}
			break
		}
	}
}

// Publish hands e to every subscriber in the order they subscribed. It
// returns once the synchronous ones have handled it; asynchronous ones get
// it queued, or count it as dropped when their queue is full.
func (b *Bus) Publish(ctx context.Context, e *Event) {
	for _, s := range b.subs {
		if s.ch == nil {
			s.sink.Handle(ctx, e)
			continue
		}
		select {
		case s.ch <- e:
		default:
			if s.dropped.Add(1)%1000 == 1 {
				slog.Warn("event: queue full, dropping events", "subscriber", s.name, "dropped", s.dropped.Load())
			}
		}
	}
}

// Dropped returns how many events all asynchronous subscribers together
// missed because their queues were full.
func (b *Bus) Dropped() int64 {
	var n int64
	for _, s := range b.subs {
		n += s.dropped.Load()
	}
	return n
}

// Subscriptions returns the subscribers in delivery order (for metrics and
// the architecture's own tests).
func (b *Bus) Subscriptions() []*Subscription { return b.subs }

// Close stops the asynchronous subscribers after they drained their
// queues. Publish must not be called after Close.
func (b *Bus) Close() {
	for _, s := range b.subs {
		if s.ch != nil {
			close(s.ch)
		}
	}
	b.wg.Wait()
}
