package guard

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"sync/atomic"
	"unsafe"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Applications send the same texts again and again: the system prompt with
// every request, the whole conversation so far with every turn (by its
// twentieth request a chat has had its first message judged twenty times),
// the same retrieved documents. What one text contributes to a check
// depends only on the text, its role class and the Guard (model, rules,
// role table), never on the policy or on the other texts: scores are merged
// by maximum, rule phrases by union, and the policy is applied after. So a
// prompt text judged once is remembered, and seen again it costs a SHA-256
// and a look-up instead of normalisation, features and the weight table.
//
// The memory is scoped: a caller names whose texts these are
// (WithMemoScope; the gateway names the API key) and only texts of that
// scope are found. Without the scope, one tenant could learn from the
// latency of its own requests whether another tenant had recently sent a
// text. Answers are not remembered: each is new.

// DefaultMemoEntries is how many judged texts a Guard remembers: about 460
// bytes each with the cache's bookkeeping (the texts are not kept), 3.8 MB
// when full.
const DefaultMemoEntries = 8192

// partVerdict is what judging one text contributed to a check.
type partVerdict struct {
	sc       Scores
	rules    ruleState
	suffix   bool // an adversarial suffix was found
	appended int  // second-task signal: noSecondTask, suspectedTask, appendedTask
}

// rememberedPart returns what the text t of role class role contributes to
// a check: found in the memo under scope, or judged now and remembered.
func (g *Guard) rememberedPart(s *scratch, scope string, role RoleClass, t string) *partVerdict {
	if s.sha == nil {
		s.sha, s.sum = sha256.New(), make([]byte, 0, sha256.Size)
	}
	key := memoKeyInto(s.sha, s.sum, scope, role, s.image, t)
	if v, ok := g.memo.c.Get(key); ok {
		g.memo.hits.Add(1)
		return v
	}
	g.memo.misses.Add(1)
	v := &partVerdict{rules: newRuleState(g.rules)}
	g.judgePart(s, t, role, &v.sc, &v.rules, &v.suffix, &v.appended)
	g.memo.c.Add(key, v)
	return v
}

// mergeInto adds v to the state of a check: the maximum of the scores, the
// union of the rule phrases.
func (v *partVerdict) mergeInto(sc *Scores, rs *ruleState, suffix *bool, appended *int) {
	for i := range sc {
		sc[i] = max(sc[i], v.sc[i])
	}
	rs.union(&v.rules)
	*suffix = *suffix || v.suffix
	*appended = max(*appended, v.appended)
}

// memoKey identifies a text in its scope and role class: a SHA-256, so
// that no one can make a text of their own collide with another.
type memoKey [sha256.Size]byte

// memoKeyInto returns the key of text in scope and role class (of an image
// prompt or not: judge treats their user texts apart), computed with a
// SHA-256 and a buffer of at least sha256.Size bytes of the caller's (a
// check's scratch): nothing is allocated and the texts are not copied.
func memoKeyInto(h hash.Hash, buf []byte, scope string, role RoleClass, image bool, text string) memoKey {
	h.Reset()
	// The scope's length first, so that scope and text cannot trade bytes.
	buf = binary.LittleEndian.AppendUint32(buf[:0], uint32(len(scope)))
	kind := byte(0)
	if image {
		kind = 1
	}
	buf = append(buf, byte(role), kind)
	h.Write(buf)
	h.Write(stringBytes(scope))
	h.Write(stringBytes(text))
	var k memoKey
	copy(k[:], h.Sum(buf[:0]))
	return k
}

// stringBytes views s as bytes, for a hash that only reads them.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// memo is a Guard's memory of judged texts, a 2Q cache: a text seen once
// (a user's new message) does not push out those seen again (system
// prompts, earlier turns).
type memo struct {
	c            *lru.TwoQueueCache[memoKey, *partVerdict]
	hits, misses atomic.Uint64
}

// MemoStats counts the prompt texts Check found in the memo (hits) and
// judged and remembered (misses) since New; both are 0 without a memo.
func (g *Guard) MemoStats() (hits, misses uint64) {
	if g.memo == nil {
		return 0, 0
	}
	return g.memo.hits.Load(), g.memo.misses.Load()
}

func newMemo(entries int) (*memo, error) {
	c, err := lru.New2Q[memoKey, *partVerdict](entries)
	if err != nil {
		return nil, fmt.Errorf("guard: memo of %d entries: %w", entries, err)
	}
	return &memo{c: c}, nil
}

type memoScopeKey struct{}

// WithMemoScope returns a context under which Check remembers the prompt
// texts it judges for scope (an API key, a tenant) and finds them again
// for the same scope only. An empty scope remembers nothing.
func WithMemoScope(ctx context.Context, scope string) context.Context {
	return context.WithValue(ctx, memoScopeKey{}, scope)
}

func memoScope(ctx context.Context) string {
	s, _ := ctx.Value(memoScopeKey{}).(string)
	return s
}
