/**
 * The Lua scripts of the shared state. Each runs atomically in Redis; the
 * ones that need the time read Redis `TIME`, never a replica's clock, so
 * replicas with skewed clocks still agree. ARGV[1] of those scripts is a
 * clock override that only tests set (one virtual clock for every replica of
 * a test); production sends an empty string.
 */
import { LuaScript } from './lua-script.js';

/** Milliseconds now: the clock override when a test set it (ARGV[1] unless given), else Redis `TIME`. */
const NOW = `
local function now_ms(override)
  override = override or ARGV[1]
  if override ~= '' then return tonumber(override) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * Registers a replica as live until now + ttl, drops the expired ones and
 * returns how many are live (N).
 * KEYS: replicas zset. ARGV: clock, replicaId, ttlMs.
 */
export const REGISTER_REPLICA = new LuaScript(
  'register',
  `${NOW}
local now = now_ms(ARGV[1])
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[2])
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return redis.call('ZCARD', KEYS[1])
`,
);

/** The lease of {@link LEASE_TOKENS}, a Lua function the publish script calls too. */
const LEASE = `
local function lease(key, now, capacity, refill, interval, want, horizon)
  local state = redis.call('HMGET', key, 'tokens', 'stepAt')
  local tokens = tonumber(state[1])
  local stepAt = tonumber(state[2])
  if tokens == nil or stepAt == nil then
    tokens = capacity
    stepAt = now
  end
  local steps = math.floor((now - stepAt) / interval)
  if steps > 0 then
    tokens = math.min(capacity, tokens + steps * refill)
    stepAt = stepAt + steps * interval
  end
  local wait = 0
  if tokens < want then
    wait = stepAt + math.ceil((want - tokens) / refill) * interval - now
  end
  if wait > horizon then
    return {0, wait - horizon}
  end
  tokens = tokens - want
  local fullIn = stepAt + math.ceil((capacity - tokens) / refill) * interval - now
  redis.call('HSET', key, 'tokens', tokens, 'stepAt', stepAt)
  redis.call('PEXPIRE', key, math.max(fullIn, 0) + interval)
  return {want, wait}
end
`;

/**
 * Takes a lease of `want` tokens from the group's bucket. The bucket is
 * refilled in whole steps, as the local TokenBucket is: every `interval` ms,
 * `refill` tokens up to `capacity`; a missing hash (a new or restarted Redis)
 * starts full. When fewer than `want` tokens are there, the lease is still
 * granted but usable only after `wait` ms, when the bucket would have held
 * them (the bucket goes below zero: a reservation); a lease that would wait
 * longer than `horizon` is refused with how long to wait before asking again.
 * The hash expires when it would be full anyway.
 * KEYS: bucket hash. ARGV: clock, capacity, refill, interval, want, horizon.
 * Returns {granted, waitMs}: granted = want and waitMs before the tokens may
 * be spent, or granted = 0 and waitMs before asking again.
 */
export const LEASE_TOKENS = new LuaScript(
  'lease',
  `${NOW}${LEASE}
return lease(KEYS[1], now_ms(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5]), tonumber(ARGV[6]))
`,
);

/**
 * Adds a session lease when the router's group holds fewer than `cap`.
 * KEYS: sessions zset. ARGV: clock, cap, member, ttlMs.
 * Returns {1 granted | 0 refused, leases held by the group afterwards}.
 */
export const ACQUIRE_SESSION = new LuaScript(
  'acquireSession',
  `${NOW}
local now = now_ms(ARGV[1])
local ttl = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZCARD', KEYS[1])
if held >= tonumber(ARGV[2]) then return {0, held} end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[3])
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return {1, held + 1}
`,
);

/**
 * One replica's heartbeat for one router's sessions: the `n` members given
 * first are renewed to now + ttl (re-registered after an outage); the ones
 * after them (acquires under way) are kept as they are; the replica's other
 * members are dropped, and so are everyone's expired leases.
 * KEYS: sessions zset. ARGV: clock, replicaId, ttlMs, n, member...
 * Returns the leases the group holds afterwards.
 */
export const RENEW_SESSIONS = new LuaScript(
  'renewSessions',
  `${NOW}
local now = now_ms(ARGV[1])
local ttl = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local prefix = ARGV[2] .. ':'
local keep = {}
for i = 5, #ARGV do keep[ARGV[i]] = true end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(member, 1, #prefix) == prefix and not keep[member] then
    redis.call('ZREM', KEYS[1], member)
  end
end
for i = 5, 4 + n do redis.call('ZADD', KEYS[1], now + ttl, ARGV[i]) end
if n > 0 then redis.call('PEXPIRE', KEYS[1], ttl * 2) end
return redis.call('ZCARD', KEYS[1])
`,
);

/**
 * Failure counters and lockouts, for pairs of keys (counter, lock). Per pair,
 * ARGV holds `by` (failures to add; 0 only reads), `max` (failures that lock)
 * and `lockMs` (a lock to make sure of, for re-publishing one taken while
 * Redis was away; 0 for none). A locked key counts no failures. Counters
 * expire `windowMs` after their first failure; a lock lasts `durationMs`.
 * KEYS: count1, lock1, count2, lock2, ... ARGV: windowMs, durationMs, then
 * by, max, lockMs per pair.
 * Returns per pair {ms the lock has left (0: none), 1 when this call began it}.
 */
export const COUNT_FAILURES = new LuaScript(
  'countFailures',
  `
local window = tonumber(ARGV[1])
local duration = tonumber(ARGV[2])
local out = {}
for i = 1, #KEYS / 2 do
  local count = KEYS[2 * i - 1]
  local lock = KEYS[2 * i]
  local by = tonumber(ARGV[3 * i])
  local max = tonumber(ARGV[3 * i + 1])
  local lockMs = tonumber(ARGV[3 * i + 2])
  local began = 0
  if lockMs > 0 and redis.call('PTTL', lock) < lockMs then
    redis.call('SET', lock, '1', 'PX', lockMs)
  end
  local left = redis.call('PTTL', lock)
  if left < 0 and by > 0 then
    local n = redis.call('INCRBY', count, by)
    if redis.call('PTTL', count) < 0 then redis.call('PEXPIRE', count, window) end
    if n >= max then
      redis.call('SET', lock, '1', 'PX', duration)
      redis.call('DEL', count)
      left = duration
      began = 1
    end
  end
  if left < 0 then left = 0 end
  out[#out + 1] = left
  out[#out + 1] = began
end
return out
`,
);

/**
 * Publishes a batch of invalidations (the writes of one event-loop turn, or
 * those that waited while the previous batch was in flight) in one atomic
 * step: the router's sequence grows by the batch's size (one number per
 * entry), each entry bumps its menu's version and is appended to the capped
 * stream (the log a reconnecting replica replays, one stream entry per
 * invalidation), and one PUBLISH carries them all: the entry itself when
 * there is one (`{seq, id, menu, row, origin}`), a JSON array of them when
 * there are several. A lease of the router's bucket may ride along (as
 * {@link LEASE_TOKENS}; `want` 0 for none), so a replica that writes and
 * spends tokens makes one round trip for both.
 * KEYS: stream, seq, bucket (any key when no lease), then the version key
 * of each entry's menu.
 * ARGV: clock, channel, maxLen, origin, then the lease's capacity, refill,
 * interval, want, horizon, then menu and row of each entry.
 * Returns {last seq, entries, granted, waitMs} (granted and waitMs as
 * LEASE_TOKENS; granted -1 when no lease was asked for).
 */
export const PUBLISH_INVALIDATION = new LuaScript(
  'publish',
  `${NOW}${LEASE}
local n = #KEYS - 3
local out = {}
local last = 0
if n > 0 then
  last = redis.call('INCRBY', KEYS[2], n)
  for i = 1, n do
    local seq = last - n + i
    local menu = ARGV[8 + 2 * i]
    local row = ARGV[9 + 2 * i]
    redis.call('INCR', KEYS[3 + i])
    local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*',
      'seq', seq, 'menu', menu, 'row', row, 'origin', ARGV[4])
    out[i] = { seq = seq, id = id, menu = menu, row = row, origin = ARGV[4] }
  end
  if n == 1 then
    redis.call('PUBLISH', ARGV[2], cjson.encode(out[1]))
  else
    redis.call('PUBLISH', ARGV[2], cjson.encode(out))
  end
end
local granted = {-1, 0}
if tonumber(ARGV[8]) > 0 then
  granted = lease(KEYS[3], now_ms(ARGV[1]), tonumber(ARGV[5]), tonumber(ARGV[6]),
    tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]))
end
return {last, n, granted[1], granted[2]}
`,
);

/**
 * What a (re)connected receiver needs: the router's sequence now, the last
 * stream id, and the entries after `lastId` ('' for none: a first sync).
 * KEYS: stream, seq. ARGV: lastId, count.
 * Returns {seq, last stream id or '', entries}.
 */
export const READ_INVALIDATIONS = new LuaScript(
  'readInvalidations',
  `
local seq = tonumber(redis.call('GET', KEYS[2]) or '0')
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local lastId = ''
if #last > 0 then lastId = last[1][1] end
if ARGV[1] == '' then return {seq, lastId, {}} end
return {seq, lastId, redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])}
`,
);
