// Package fanout tells every Warden instance that a key changed (revoked,
// suspended, throttled, rotated, edited), so each drops the key from its
// cache and the next request sees the new record. A key revoked on one
// instance is refused by all of them within milliseconds, and within one
// poll interval even when Redis is away.
//
// Two channels carry the news:
//
//   - Redis pub/sub, fast and lossy: the instance that makes a change
//     publishes the ids on Options.Channel ("warden:keys:changed") as
//     {"ids":["key_..."]}. A subscriber that is disconnected at that moment
//     never gets the message.
//   - The store's change log (store.Keys.KeysChangedSince), slow and
//     complete: each Watcher polls it every Options.Poll, and at once when
//     its subscription (re)connects, to catch whatever pub/sub lost.
//
// So ids may arrive twice (once per channel); invalidation is idempotent.
// With no Redis configured, the Watcher only polls: that is also how several
// processes on one SQLite data directory learn of each other's changes.
//
// Use Notify to wrap the store given to the admin API, the CLI and the
// detector, so no change path can forget to publish; give the gateway's
// cache invalidation to Watcher.Run.
package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store"
)

// DefaultChannel is the pub/sub channel of key-change notices.
const DefaultChannel = "warden:keys:changed"

// Limits on a notice, which arrives from the network: anything larger is
// dropped (the poll still delivers the change).
const (
	maxNoticeBytes = 256 << 10
	maxNoticeIDs   = 10000
	maxIDLen       = 128
)

// maxPollPages bounds the pages one poll reads, so a huge backlog cannot keep
// the watcher from its other work; the rest comes at the next poll.
const maxPollPages = 100

// notice is the pub/sub message.
type notice struct {
	IDs []string `json:"ids"`
}

// encodeNotice returns the message announcing ids.
func encodeNotice(ids []string) ([]byte, error) {
	return json.Marshal(notice{IDs: ids})
}

// decodeNotice parses a message, rejecting anything oversized or malformed.
func decodeNotice(b []byte) ([]string, error) {
	if len(b) > maxNoticeBytes {
		return nil, fmt.Errorf("fanout: notice of %d bytes, limit %d", len(b), maxNoticeBytes)
	}
	var n notice
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("fanout: malformed notice: %w", err)
	}
	if len(n.IDs) > maxNoticeIDs {
		return nil, fmt.Errorf("fanout: notice with %d ids, limit %d", len(n.IDs), maxNoticeIDs)
	}
	for _, id := range n.IDs {
		if id == "" || len(id) > maxIDLen {
			return nil, errors.New("fanout: notice with an empty or overlong id")
		}
	}
	return n.IDs, nil
}

// Publisher announces key changes on Redis.
type Publisher struct {
	rdb     redis.UniversalClient
	channel string
}

// NewPublisher returns a publisher on channel (DefaultChannel if empty).
func NewPublisher(rdb redis.UniversalClient, channel string) *Publisher {
	if channel == "" {
		channel = DefaultChannel
	}
	return &Publisher{rdb: rdb, channel: channel}
}

// Publish announces that the keys ids changed.
func (p *Publisher) Publish(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	msg, err := encodeNotice(ids)
	if err != nil {
		return fmt.Errorf("fanout: encode notice: %w", err)
	}
	if err := p.rdb.Publish(ctx, p.channel, msg).Err(); err != nil {
		return fmt.Errorf("fanout: publish %d key changes: %w", len(ids), err)
	}
	return nil
}

// publishTimeout bounds the publish after a change. The change is committed
// by then; a late or failed notice only delays the others until their poll.
const publishTimeout = time.Second

// Notifying is a store whose key changes are published as they commit. All
// other methods are those of the wrapped store.
type Notifying struct {
	store.Store
	pub *Publisher
	log *slog.Logger
}

// Notify wraps s so that CreateKey, UpdateKey and DeleteKey publish the id
// after a successful change. A failed publish is logged, not returned: the
// change itself succeeded, and the watchers' polls will find it.
func Notify(s store.Store, p *Publisher, log *slog.Logger) *Notifying {
	if log == nil {
		log = slog.Default()
	}
	return &Notifying{Store: s, pub: p, log: log}
}

// Unwrap returns the wrapped store, for callers that need its concrete type
// (for example *sqlite.DB's SQL or *postgres.DB's Pool).
func (n *Notifying) Unwrap() store.Store { return n.Store }

func (n *Notifying) publish(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	if err := n.pub.Publish(ctx, id); err != nil {
		n.log.Warn("fanout: key change not published; other instances see it at their next poll", "key", id, "err", err)
	}
}

// CreateKey implements store.Keys.
func (n *Notifying) CreateKey(ctx context.Context, k *keys.Key) error {
	if err := n.Store.CreateKey(ctx, k); err != nil {
		return err
	}
	n.publish(ctx, k.ID)
	return nil
}

// UpdateKey implements store.Keys.
func (n *Notifying) UpdateKey(ctx context.Context, id string, fn func(*keys.Key) error) (*keys.Key, error) {
	k, err := n.Store.UpdateKey(ctx, id, fn)
	if err != nil {
		return nil, err
	}
	n.publish(ctx, id)
	return k, nil
}

// DeleteKey implements store.Keys.
func (n *Notifying) DeleteKey(ctx context.Context, id string) error {
	if err := n.Store.DeleteKey(ctx, id); err != nil {
		return err
	}
	n.publish(ctx, id)
	return nil
}
