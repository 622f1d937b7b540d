// The cross-key pool in Redis: partitioning by key splits the keys of
// different owners over instances, so the pooling signals count owners
// where every owner of the cluster meets.

package partition

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/internal/detect"
)

// touchPool records ARGV[1] (owner) at ARGV[2] (event time, ms) in the
// hash KEYS[1] (owner -> last time), drops owners older than ARGV[3]
// (window, ms) before it, keeps the key for the window, and returns how
// many owners are left. A hash holds at most 16 owners: the detector only
// asks whether there are 2 or 3.
var touchPool = redis.NewScript(`
local now, window = tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
local n = 0
for i = 1, #all, 2 do
  local t = tonumber(all[i+1])
  if t == nil or now - t > window or (n >= 16 and all[i] ~= ARGV[1]) then
    redis.call('HDEL', KEYS[1], all[i])
  else
    n = n + 1
  end
end
redis.call('PEXPIRE', KEYS[1], window)
return n`)

// Pool is a detect.Pool in Redis, one small hash per value under
// {prefix}pool:{h}. When Redis fails it counts in process for
// Options.Cooldown (Fallback says how often), so detection never waits
// on an outage more than one timeout.
type Pool struct {
	rdb   redis.UniversalClient
	opt   Options
	local detect.Pool

	mu   sync.Mutex
	down time.Time

	fallback atomic.Int64
	logs     logLimiter
}

// NewPool returns a Redis pool with the Feed's Options (Prefix, Timeout,
// Cooldown, Logger).
func NewPool(rdb redis.UniversalClient, opt Options) *Pool {
	return &Pool{rdb: rdb, opt: opt.withDefaults(), local: detect.NewPool()}
}

// Fallback returns how many touches were counted in process because Redis
// failed.
func (p *Pool) Fallback() int64 { return p.fallback.Load() }

// Touch implements detect.Pool.
func (p *Pool) Touch(h, owner uint64, now, window int64) int {
	p.mu.Lock()
	down := time.Now().Before(p.down)
	p.mu.Unlock()
	if !down {
		ctx, cancel := context.WithTimeout(context.Background(), p.opt.Timeout)
		n, err := touchPool.Run(ctx, p.rdb, []string{p.opt.Prefix + "pool:" + strconv.FormatUint(h, 16)},
			strconv.FormatUint(owner, 16), now/1e6, max(window/1e6, 1)).Int()
		cancel()
		if err == nil {
			return n
		}
		if p.logs.ok() {
			log := p.opt.Logger
			if log == nil {
				log = slog.Default()
			}
			log.Warn("partition: Redis failed; counting pooled keys in process", "err", err)
		}
		p.mu.Lock()
		p.down = time.Now().Add(p.opt.Cooldown)
		p.mu.Unlock()
	}
	p.fallback.Add(1)
	return p.local.Touch(h, owner, now, window)
}
