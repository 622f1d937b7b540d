package redislimit

import "github.com/redis/go-redis/v9"

// gcraScript is limit.GCRA in Lua, over one or more buckets in order,
// stopping at the first refusal (limit.TakeAll's contract). Keep the two in
// step: TestMatchesLocal compares them on random sequences.
//
//	KEYS     the buckets: each "<sec>:<nsec>" of its theoretical arrival time (tat)
//	ARGV     now seconds, now nanoseconds, "1" to use TIME instead,
//	         then perMinute and n for each bucket
//	returns  {allowed (0/1), remaining, retry-after ns, reset ns} for each take
//	         made, flattened
//
// All arithmetic is on nanosecond differences from now ("rel" = tat - now),
// which stay below 2^53 and so are exact in Lua's doubles.
var gcraScript = redis.NewScript(`
local now_s, now_ns
if ARGV[3] == '1' then
  local t = redis.call('TIME')
  now_s = tonumber(t[1])
  now_ns = tonumber(t[2]) * 1000
else
  now_s = tonumber(ARGV[1])
  now_ns = tonumber(ARGV[2])
end
local minute = 60000000000
local out = {}

for i = 1, #KEYS do
  local p = tonumber(ARGV[2 + 2 * i])
  local n = tonumber(ARGV[3 + 2 * i])
  local interval = math.floor(minute / p)

  local rel = 0
  local v = redis.call('GET', KEYS[i])
  if v then
    local s, ns = string.match(v, '^(%d+):(%d+)$')
    if s then
      rel = (tonumber(s) - now_s) * 1000000000 + (tonumber(ns) - now_ns)
      if rel < 0 then rel = 0 end
    end
  end

  local function remaining(r)
    local used = math.floor((r + interval - 1) / interval)
    if used < 0 then used = 0 end
    if used > p then return 0 end
    return p - used
  end

  local function store(r)
    local t = now_ns + r
    local s = now_s + math.floor(t / 1000000000)
    local ns = t % 1000000000
    -- keep the bucket until a second after it is full again
    local ttl = math.floor((r + 999999) / 1000000) + 1000
    redis.call('SET', KEYS[i], string.format('%d:%d', s, ns), 'PX', ttl)
  end

  local newrel = rel + n * interval
  if n <= 0 then
    if newrel < 0 then newrel = 0 end
    store(newrel)
    table.insert(out, 1); table.insert(out, remaining(newrel)); table.insert(out, 0); table.insert(out, newrel)
  else
    local allow = newrel - minute
    if allow > 0 then
      local retry = allow
      if n > p then retry = minute end
      table.insert(out, 0); table.insert(out, remaining(rel)); table.insert(out, retry); table.insert(out, rel)
      return out
    end
    store(newrel)
    table.insert(out, 1); table.insert(out, remaining(newrel)); table.insert(out, 0); table.insert(out, newrel)
  end
end
return out
`)

// acquireScript takes a concurrency slot if one is free.
//
//	KEYS[1]  sorted set of request ids scored by lease expiry (ms, server clock)
//	ARGV     max, request id, lease ms
//	returns  1 if taken, 0 if max leases are live
var acquireScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[2])
redis.call('PEXPIRE', KEYS[1], lease * 2)
return 1
`)

// renewScript extends leases that are still held.
//
//	KEYS[1]  the sorted set
//	ARGV     lease ms, request ids...
//	returns  how many of the ids had already expired (and stay gone)
var renewScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
local lost = 0
for i = 2, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) > now then
    redis.call('ZADD', KEYS[1], now + lease, ARGV[i])
  else
    if score then redis.call('ZREM', KEYS[1], ARGV[i]) end
    lost = lost + 1
  end
end
redis.call('PEXPIRE', KEYS[1], lease * 2)
return lost
`)
