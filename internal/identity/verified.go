package identity

import (
	"crypto/sha256"
	"sync"
	"time"
)

// verifiedCache remembers credentials whose signature and claims were
// verified, until they expire, so a client that sends the same JWT with
// every request pays for one signature check, not one per request (an
// Ed25519 or RSA verification costs tens of microseconds; a hit costs a
// SHA-256). Entries are keyed by the credential's hash, never the
// credential. Checks that depend on the request (network, DPoP proof,
// certificate, the parent's status) run on every request regardless.
type verifiedCache[T any] struct {
	max int

	mu sync.Mutex
	m  map[[32]byte]verifiedEntry[T]
}

type verifiedEntry[T any] struct {
	v     T
	until time.Time
}

func newVerifiedCache[T any](max int) *verifiedCache[T] {
	return &verifiedCache[T]{max: max, m: map[[32]byte]verifiedEntry[T]{}}
}

func (c *verifiedCache[T]) get(cred string, now time.Time) (T, bool) {
	h := sha256.Sum256([]byte(cred))
	c.mu.Lock()
	e, ok := c.m[h]
	c.mu.Unlock()
	if !ok || !now.Before(e.until) {
		var zero T
		return zero, false
	}
	return e.v, true
}

// put remembers v for cred until until.
func (c *verifiedCache[T]) put(cred string, v T, until, now time.Time) {
	if !now.Before(until) {
		return
	}
	h := sha256.Sum256([]byte(cred))
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
		// Still full of live entries: drop an arbitrary tenth; they are
		// verified again on their next use.
		for k := range c.m {
			if len(c.m) < c.max*9/10 {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[h] = verifiedEntry[T]{v: v, until: until}
}
