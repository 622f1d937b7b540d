package detect

import "sync"

// Pool remembers, across keys, which owners used a value recently. The
// detector asks it for the pooling signals; Options.Pool picks the
// implementation: in process (the default, for one instance and replay)
// or shared by a cluster whose keys are detected on different instances
// (package partition).
type Pool interface {
	// Touch records that owner used value h at event time now (ns) and
	// returns how many distinct owners, this one included, used h within
	// window (ns) before now. Implementations may count at most 4 owners
	// and must answer without failing (falling back to a local count).
	Touch(h, owner uint64, now, window int64) int
}

// NewPool returns the in-process Pool.
func NewPool() Pool { return &pool{} }

// pool remembers, across keys, which owners used a value (a conversation
// root or a client identity) recently, to find one client or one
// conversation spread over keys of different owners: the mark of a proxy
// rotating through a pool of stolen keys.
//
// Memory is bounded: each shard keeps two generations of at most
// poolShardCap entries and drops the older one when the newer fills up or
// a window of event time passes.
type pool struct {
	shards [16]poolShard
}

const poolShardCap = 8192

type poolShard struct {
	mu      sync.Mutex
	cur     map[uint64]owners
	prev    map[uint64]owners
	rotated int64
}

// owners are the last few owners that used a value, with when.
type owners [4]struct {
	owner uint64
	last  int64
}

// Touch implements Pool.
func (p *pool) Touch(h, owner uint64, now, window int64) int {
	s := &p.shards[h%uint64(len(p.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil || now-s.rotated > window || len(s.cur) >= poolShardCap {
		s.prev, s.cur, s.rotated = s.cur, make(map[uint64]owners, 64), now
	}
	o, ok := s.cur[h]
	if !ok {
		o = s.prev[h]
	}
	n, slot, oldest := 1, -1, 0
	for i := range o {
		switch {
		case o[i].owner == owner:
			slot = i
		case o[i].last != 0 && now-o[i].last <= window:
			n++
		}
		if o[i].last < o[oldest].last {
			oldest = i
		}
	}
	if slot < 0 {
		slot = oldest
	}
	o[slot].owner, o[slot].last = owner, now
	s.cur[h] = o
	return n
}
