package fanout

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/internal/store"
)

// Options configure a Watcher. The zero value gives the defaults.
type Options struct {
	// Channel is the pub/sub channel. Default DefaultChannel.
	Channel string
	// Poll is the interval of the fallback poll of the store's change log.
	// Default 5s with Redis, 1s without.
	Poll time.Duration
	// Since is the store revision the caller's cache is in step with. Zero
	// means start at the store's current revision: changes made before Run
	// are not reported (a fresh cache holds nothing to invalidate).
	Since int64
	// Logger receives errors of Redis and the store. Nil means slog.Default().
	Logger *slog.Logger
	// Subscribed, if set, is called each time the pub/sub subscription is
	// (re)established, from the watcher's goroutine (tests wait on it
	// instead of polling Redis). Nil: nothing is called.
	Subscribed func()
}

// Watcher reports key changes made by any instance.
type Watcher struct {
	keys    store.Keys
	rdb     redis.UniversalClient // nil: poll only
	channel string
	poll    time.Duration
	rev     int64
	log     *slog.Logger
	onSub   func()
}

// NewWatcher returns a watcher of the store's keys. rdb may be nil, to rely
// on polling alone.
func NewWatcher(keys store.Keys, rdb redis.UniversalClient, o Options) *Watcher {
	w := &Watcher{keys: keys, rdb: rdb, channel: o.Channel, poll: o.Poll, rev: o.Since, log: o.Logger, onSub: o.Subscribed}
	if w.channel == "" {
		w.channel = DefaultChannel
	}
	if w.poll <= 0 {
		w.poll = time.Second
		if rdb != nil {
			w.poll = 5 * time.Second
		}
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	return w
}

// Run calls changed with the ids of changed keys until ctx ends, then
// returns ctx's error. changed is called from one goroutine, never
// concurrently, and must not block for long. Errors of Redis and the store
// are logged and retried; they never end Run.
func (w *Watcher) Run(ctx context.Context, changed func(ids []string)) error {
	if w.rev == 0 {
		if err := w.skipHistory(ctx); err != nil {
			return err
		}
	}
	notices := make(chan []string, 64)
	resync := make(chan struct{}, 1)
	if w.rdb != nil {
		go w.subscribe(ctx, notices, resync)
	}
	t := time.NewTicker(w.poll)
	defer t.Stop()
	var lastErr time.Time
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ids := <-notices:
			changed(ids)
			continue
		case <-resync:
		case <-t.C:
		}
		if err := w.pollOnce(ctx, changed); err != nil && ctx.Err() == nil && time.Since(lastErr) > time.Minute {
			lastErr = time.Now()
			w.log.Warn("fanout: polling key changes failed; retrying", "err", err)
		}
	}
}

// skipHistory moves to the current revision without reporting anything,
// waiting for the store if it is not reachable yet.
func (w *Watcher) skipHistory(ctx context.Context) error {
	for pages := 0; ; pages++ {
		ids, rev, err := w.keys.KeysChangedSince(ctx, w.rev)
		if err != nil {
			w.log.Warn("fanout: store unreachable; waiting", "err", err)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(w.poll):
			}
			continue
		}
		w.rev = rev
		if len(ids) == 0 {
			return nil
		}
	}
}

func (w *Watcher) pollOnce(ctx context.Context, changed func([]string)) error {
	for range maxPollPages {
		ids, rev, err := w.keys.KeysChangedSince(ctx, w.rev)
		if err != nil {
			return err
		}
		w.rev = rev
		if len(ids) == 0 {
			return nil
		}
		changed(ids)
	}
	return nil
}

// subscribe forwards notices until ctx ends. Each (re)subscription asks for
// a poll, to catch what was published while the subscriber was away.
func (w *Watcher) subscribe(ctx context.Context, notices chan<- []string, resync chan<- struct{}) {
	ps := w.rdb.Subscribe(ctx, w.channel)
	defer ps.Close()
	backoff := 100 * time.Millisecond
	var lastErr time.Time
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, 30*time.Second)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if isTimeout(err) {
				continue // idle; go-redis keeps the connection
			}
			if time.Since(lastErr) > time.Minute {
				lastErr = time.Now()
				w.log.Warn("fanout: key-change subscription lost; polling until it is back", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		switch m := msg.(type) {
		case *redis.Subscription:
			if w.onSub != nil {
				w.onSub()
			}
			select {
			case resync <- struct{}{}:
			default:
			}
		case *redis.Message:
			ids, err := decodeNotice([]byte(m.Payload))
			if err != nil {
				w.log.Warn("fanout: ignoring a notice", "err", err)
				continue
			}
			select {
			case notices <- ids:
			case <-ctx.Done():
				return
			}
		}
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
