package gateway

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store"
)

// keyCache answers "which key has this hash" from memory. Entries (negative
// ones too, so a flood of garbage keys does not reach the store) expire
// after ttl; a watcher also drops entries of keys changed in the store, so a
// revocation made anywhere (another instance, the CLI on the same data dir)
// is honoured within one poll interval.
type keyCache struct {
	store store.Keys
	ttl   time.Duration
	max   int

	mu      sync.RWMutex // readers are every request; writers are misses and changes
	entries map[keys.Hash]cacheEntry
	byID    map[string]keys.Hash
}

type cacheEntry struct {
	key     *keys.Key // nil: known not to exist
	expires time.Time
}

func newKeyCache(s store.Keys, ttl time.Duration, max int) *keyCache {
	return &keyCache{store: s, ttl: ttl, max: max, entries: make(map[keys.Hash]cacheEntry), byID: make(map[string]keys.Hash)}
}

// lookup returns the key with hash h, or nil if there is none. The returned
// key is shared: callers must not modify it.
func (c *keyCache) lookup(ctx context.Context, h keys.Hash, now time.Time) (*keys.Key, error) {
	c.mu.RLock()
	e, ok := c.entries[h]
	c.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.key, nil
	}
	k, err := c.store.KeyByHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		k, err = nil, nil
	}
	if err != nil {
		if ok {
			// The store is unreachable: keep checking known keys from the
			// stale entry rather than failing every request.
			return e.key, nil
		}
		return nil, err
	}
	c.put(h, k, now)
	return k, nil
}

func (c *keyCache) put(h keys.Hash, k *keys.Key, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		// Evict an arbitrary tenth: map order is random enough, and the
		// cache refills from the store.
		n := c.max / 10
		for eh, ee := range c.entries {
			if ee.key != nil {
				delete(c.byID, ee.key.ID)
			}
			delete(c.entries, eh)
			if n--; n <= 0 {
				break
			}
		}
	}
	c.entries[h] = cacheEntry{key: k, expires: now.Add(c.ttl)}
	if k != nil {
		c.byID[k.ID] = h
	}
}

// invalidate refreshes the cached entries of the named keys from the
// store. Keys that are not cached cost nothing: a later look-up reads them
// fresh anyway.
func (c *keyCache) invalidate(ctx context.Context, ids []string, now time.Time) {
	for _, id := range ids {
		c.mu.Lock()
		h, cached := c.byID[id]
		if cached {
			delete(c.entries, h)
			delete(c.byID, id)
		}
		c.mu.Unlock()
		k, err := c.store.KeyByID(ctx, id)
		if err != nil {
			continue // deleted or unreadable: its old entry is gone
		}
		c.mu.Lock()
		_, negative := c.entries[k.Hash]
		if negative {
			delete(c.entries, k.Hash) // a new key may shadow a negative entry
		}
		c.mu.Unlock()
		if cached || negative {
			c.put(k.Hash, k, now)
		}
	}
}
