package guard

import (
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/keys"
)

// PolicyKey is the name of a key's guard policy in keys.Key.Policies.
const PolicyKey = "guard"

// Resolver finds the policy a key runs under: the key's own (its "guard"
// policy document), else its owner's team policy, else the default. Decoded
// key policies are cached by key id and update time.
type Resolver struct {
	Default *Policy
	Teams   map[string]*Policy // by keys.Key.Owner

	mu    sync.Mutex
	cache map[string]cachedPolicy
}

type cachedPolicy struct {
	updated time.Time
	p       *Policy
}

// Policy returns the policy for k. A key policy that does not decode is
// logged and ignored: the team or default policy applies, never none.
func (r *Resolver) Policy(k *keys.Key) *Policy {
	if doc, ok := k.Policies[PolicyKey]; ok && doc != nil {
		r.mu.Lock()
		c, hit := r.cache[k.ID]
		r.mu.Unlock()
		if hit && c.updated.Equal(k.UpdatedAt) {
			return c.p
		}
		b, err := json.Marshal(doc)
		if err == nil {
			p, derr := DecodePolicy(b)
			if derr == nil {
				r.mu.Lock()
				if r.cache == nil || len(r.cache) > 100_000 {
					r.cache = map[string]cachedPolicy{}
				}
				r.cache[k.ID] = cachedPolicy{k.UpdatedAt, p}
				r.mu.Unlock()
				return p
			}
			err = derr
		}
		slog.Warn("guard: ignoring a key's policy that does not decode", "key", k.ID, "err", err)
	}
	if p, ok := r.Teams[k.Owner]; ok {
		return p
	}
	if r.Default != nil {
		return r.Default
	}
	return defaultPolicy
}
