/**
 * The Lua scripts of the Redis tier: one atomic script per state transition (after BullMQ). Each
 * touches the keys of ONE shard (one hash tag), does bounded work (the callers chunk their
 * arguments, `CHUNK`), writes numbers with `%.0f` (Lua prints 2^50 as `1.1258999068426e+15`
 * otherwise) and returns versions as integer replies. Versions are made here, from Redis `TIME`
 * and a per-shard floor, never from an application's clock.
 *
 * The write script has no `allow-oom` flag on purpose: under `maxmemory` it is refused, which the
 * tier reports as backpressure. The claiming and acknowledging scripts have it, so that flushing,
 * which frees nothing but lets clean entries expire, still works when memory is full.
 */
import { NOW, script } from './lua.js'
import { RETRYING } from './retry-scripts.js'

/**
 * Most keys (or key/version pairs) one script call handles. A script blocks Redis, and so every
 * write behind it, for as long as it runs: at 64 keys a claim or an ack took 0.4-0.5 ms on average
 * (p99 2-3 ms on a loaded machine), where acks of 200 and claims of up to 1,000 took 0.9-1.2 ms
 * (p99 7-8 ms) in the same conditions (bench/redis-profile.ts, bench/README.md).
 */
export const CHUNK = 64

/** The highest version a write may take (`Number.MAX_SAFE_INTEGER`). */
const MAX_VERSION = '9007199254740991'

/**
 * write: KEYS entry, dirty, vers, meta; ARGV key, payload, del (1|0), cap, force (1|0), expect?, ttl?.
 * A clean entry made before the shard's trust epoch (`TRUST`) counts as no entry for `expect`.
 * Returns {version, dirty count, 1 if newly dirty}, or {-1, dirty count} when the key is not dirty yet and the shard
 * holds `cap` dirty keys (unless `force`), or {-2, dirty count} when `expect` is given ('' : not) and the entry's
 * version is not it ('0': no entry), writing nothing (the compare-and-swap of `update` and the counters). `ttl`:
 * this write's expiry once clean, ms ('' : the cache's), kept in the entry for the ack script. A new version drops the key's retry state (`retry-scripts.ts`): its
 * attempts start again at 0 and it is due at once, as a rewrite replaces a failing op on the embedded tier.
 */
export const WRITE = script(
  'write',
  `${NOW}
local nowUs = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cur = redis.call('HMGET', KEYS[1], 'ver', 'st', 'att', 'ttl', 'te')
local dirty = cur[2] == 'd'
local count = redis.call('ZCARD', KEYS[2])
local expect, ttl = ARGV[6] or '', ARGV[7] or ''
local seen = cur[1] or '0'
-- A clean entry from before the last trust epoch reads as no entry (READ), so it compares as none.
if cur[2] == 'c' and tonumber(cur[5] or '0') < tonumber(redis.call('HGET', KEYS[4], 'te') or '0') then seen = '0' end
if expect ~= '' and seen ~= expect then return {-2, count} end
if not dirty and ARGV[5] ~= '1' and count >= tonumber(ARGV[4]) then return {-1, count} end
local floor = tonumber(redis.call('HGET', KEYS[4], 'floor') or '0')
local v = math.max((tonumber(cur[1]) or 0) + 1, floor + 1, nowUs)
if v > ${MAX_VERSION} then return redis.error_reply('WB_VERSION_EXHAUSTED versions reached 2^53') end
local vs = string.format('%.0f', v)
redis.call('HSET', KEYS[4], 'floor', vs)
if ARGV[3] == '1' then
  redis.call('HDEL', KEYS[1], 'p')
  redis.call('HSET', KEYS[1], 'ver', vs, 'st', 'd', 'del', '1')
else
  redis.call('HSET', KEYS[1], 'p', ARGV[2], 'ver', vs, 'st', 'd', 'del', '0')
end
redis.call('PERSIST', KEYS[1])
if ttl ~= '' then redis.call('HSET', KEYS[1], 'ttl', ttl) elseif cur[4] then redis.call('HDEL', KEYS[1], 'ttl') end
if cur[3] then
  -- A new version starts with no failed attempts, and is due now even if the old one was backing off.
  redis.call('HDEL', KEYS[1], 'att', 'ff')
  if dirty then redis.call('ZADD', KEYS[2], 'LT', string.format('%.0f', nowMs), ARGV[1]) end
end
if not dirty then
  redis.call('HSET', KEYS[1], 'since', string.format('%.0f', nowMs))
  redis.call('ZADD', KEYS[2], 'NX', string.format('%.0f', nowMs), ARGV[1])
  redis.call('ZADD', KEYS[3], 'NX', vs, ARGV[1])
  count = count + 1
end
return {v, count, dirty and 0 or 1}
`,
)

/**
 * claim: KEYS dirty, lease, retry; ARGV entry prefix, token, lease ms, max, use lease (1|0), scan limit, offset.
 * Takes (or renews, or with nothing dirty releases) the shard's lease, then reads up to `max`
 * due dirty entries (score = not-before time at or below Redis TIME), earliest first, looking at
 * no more than `scan limit` of them from position `offset` among the due ones. Changes no entry.
 * Reads a key's retry state (`att`, `ff`) only when the key is in the shard's retry set
 * (`retry-scripts.ts`: most entries have none, and a field that is absent costs as much to look for
 * as one that is there), and the tombstone flag not at all: a tombstone is the entry without `p`.
 * `allow-oom`: the lease's SET must pass when Redis is at maxmemory, or nothing could be flushed
 * (and freed) then.
 * Returns 0 when another instance holds the lease, else one MessagePack string (`msgpack.ts`: one bulk
 * string for the client to parse, not seven per entry) of the array {next, key, version, payload (false
 * for a tombstone), since, attempts, first failed ms, ...} where `next` is the offset to go on from, or
 * -1 when no due entry is left past those looked at. Numbers go as numbers (`tonumber`: below 2^53).
 */
export const CLAIM = script(
  'claim',
  `#!lua flags=allow-oom
${NOW}${RETRYING}
if ARGV[5] == '1' then
  local holder = redis.call('GET', KEYS[2])
  if holder == false then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  elseif holder == ARGV[2] then redis.call('PEXPIRE', KEYS[2], ARGV[3])
  else return 0 end
end
local offset, scan = tonumber(ARGV[7] or '0'), tonumber(ARGV[6])
local keys = redis.call('ZRANGE', KEYS[1], '-inf', string.format('%.0f', nowMs), 'BYSCORE', 'LIMIT', offset, scan)
local retry = retrying(KEYS[3], keys, 1, 1)
local prefix = ARGV[1]
local out = {-1}
local o, n, seen = 1, 0, 0
local max = tonumber(ARGV[4])
for _, k in ipairs(keys) do
  if n >= max then break end
  seen = seen + 1
  local e
  if retry[k] then e = redis.call('HMGET', prefix .. k, 'st', 'ver', 'p', 'since', 'att', 'ff')
  else e = redis.call('HMGET', prefix .. k, 'st', 'ver', 'p', 'since') end
  if e[1] == 'd' then
    out[o + 1] = k
    out[o + 2] = tonumber(e[2])
    out[o + 3] = e[3]
    out[o + 4] = tonumber(e[4] or '0')
    out[o + 5] = tonumber(e[5] or '0')
    out[o + 6] = tonumber(e[6] or '0')
    o, n = o + 6, n + 1
  end
end
if seen < #keys or #keys == scan then out[1] = offset + seen end
-- Kept while keys wait out a backoff: the holder retries them, another instance would only duplicate it.
if ARGV[5] == '1' and redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) end
return cmsgpack.pack(out)
`,
)

/**
 * read: KEYS meta, entries. Returns per key {ver, st, del, payload, since} ('' for absent fields; ver '' = no entry).
 * A clean entry made clean before the shard's trust epoch (`TRUST`: Redis may have lost writes since)
 * reads as no entry: the caller reads the store, which is the truth for clean data, and fills.
 */
export const READ = script(
  'read',
  `
local epoch = tonumber(redis.call('HGET', KEYS[1], 'te') or '0')
local out = {}
for i = 2, #KEYS do
  local e = redis.call('HMGET', KEYS[i], 'ver', 'st', 'del', 'p', 'since', 'te')
  if e[2] == 'c' and tonumber(e[6] or '0') < epoch then e = {} end
  out[#out + 1] = e[1] or ''
  out[#out + 1] = e[2] or ''
  out[#out + 1] = e[3] or '0'
  out[#out + 1] = e[4] or ''
  out[#out + 1] = e[5] or '0'
end
return out
`,
)

/**
 * ack: KEYS dirty, vers, meta, retry; ARGV ttl ms, entry prefix, then key, version per entry (the entry is
 * prefix .. key, as in `claim`: the caller sends each key once). Marks an entry clean at the shard's
 * trust epoch only if its version is unchanged (compare-and-swap), expiring after its write's own
 * ttl if it has one, else `ttl` (0: never); an entry written since stays dirty, and its first
 * unflushed version moves past the acknowledged one; a clean entry older than the acknowledged
 * version (a failover lost the newer one, which reached the store) is dropped. Retry state is read
 * and dropped only for keys in the retry set, which loses those no longer dirty. A clean entry keeps
 * its `since` (read only while dirty; the write that dirties it again sets it): one call fewer
 * per key. Returns {how many became clean, the shard's dirty count, its lowest unflushed version
 * or 0 (none), its earliest due score or 0 (none due; as `stats`)} after its work: the caller's view
 * of the shard without a stats call (`snapshot.ts`).
 */
export const ACK = script(
  'ack',
  `#!lua flags=allow-oom${RETRYING}
local cleaned, settled = {}, {}
local ttl = tonumber(ARGV[1])
local prefix = ARGV[2]
local epoch = redis.call('HGET', KEYS[3], 'te') or '0'
local retry = retrying(KEYS[4], ARGV, 3, 2)
for i = 3, #ARGV, 2 do
  local key, version = ARGV[i], ARGV[i + 1]
  local entry = prefix .. key
  local member = retry[key]
  local e
  if member then e = redis.call('HMGET', entry, 'ver', 'st', 'ttl', 'att', 'ff')
  else e = redis.call('HMGET', entry, 'ver', 'st', 'ttl') end
  if e[1] == version then
    if e[2] == 'd' or e[2] == 'x' then
      redis.call('HSET', entry, 'st', 'c', 'te', epoch)
      if e[4] or e[5] then redis.call('HDEL', entry, 'att', 'ff') end
      local expiry = tonumber(e[3] or ttl)
      if expiry > 0 then redis.call('PEXPIRE', entry, expiry) end
      cleaned[#cleaned + 1] = key
    end
  elseif e[1] and tonumber(e[1]) > tonumber(version) then
    redis.call('ZADD', KEYS[2], 'XX', 'GT', string.format('%.0f', tonumber(version) + 1), key)
  elseif e[2] == 'c' then
    -- Clean but older than what the store now holds (a batch in flight across a failover): drop it.
    redis.call('DEL', entry)
  end
  -- A member whose entry is no longer dirty leaves the retry set (one written since stays in it).
  if member and (e[2] ~= 'd' or e[1] == version) then settled[#settled + 1] = key end
end
-- One ZREM per set for the whole call (at most CHUNK members: within unpack's limit).
if #cleaned > 0 then
  redis.call('ZREM', KEYS[1], unpack(cleaned))
  redis.call('ZREM', KEYS[2], unpack(cleaned))
end
if #settled > 0 then redis.call('SREM', KEYS[4], unpack(settled)) end
local lowest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
${NOW}
local due = redis.call('ZRANGE', KEYS[1], '-inf', string.format('%.0f', nowMs), 'BYSCORE', 'LIMIT', 0, 1, 'WITHSCORES')
return {#cleaned, redis.call('ZCARD', KEYS[1]), tonumber(lowest[2] or '0'), tonumber(due[2] or '0')}
`,
)

/**
 * supersede: KEYS dirty, vers, meta, retry, entries…; ARGV key, version, store version per entry. The
 * store holds a newer version: the shard's floor rises above it, and an entry not written since is
 * dropped (the next read loads the store's row), and leaves the retry set. Returns how many entries
 * were dropped.
 */
export const SUPERSEDE = script(
  'supersede',
  `#!lua flags=allow-oom
local dropped = {}
local floor = tonumber(redis.call('HGET', KEYS[3], 'floor') or '0')
for i = 5, #KEYS do
  local key = ARGV[(i - 5) * 3 + 1]
  local version = ARGV[(i - 5) * 3 + 2]
  local stored = tonumber(ARGV[(i - 5) * 3 + 3])
  if stored > floor then floor = stored end
  local ver = redis.call('HGET', KEYS[i], 'ver')
  if ver == version then
    redis.call('DEL', KEYS[i])
    redis.call('ZREM', KEYS[1], key)
    redis.call('ZREM', KEYS[2], key)
    dropped[#dropped + 1] = key
  elseif ver and tonumber(ver) > tonumber(version) then
    redis.call('ZADD', KEYS[2], 'XX', 'GT', string.format('%.0f', tonumber(version) + 1), key)
  end
end
if #dropped > 0 then redis.call('SREM', KEYS[4], unpack(dropped)) end
redis.call('HSET', KEYS[3], 'floor', string.format('%.0f', floor))
return #dropped
`,
)

/**
 * deadletter: KEYS dirty, vers, dlq, retry, entries…; ARGV error, then key, version, del, payload,
 * attempts, first failed ms per entry. Appends each to the shard's dead-letter stream; an entry not
 * written since stops being dirty, is marked dead (still served) and leaves the retry set (its `att`
 * is read again only once a write or a requeue has dropped it). An entry another worker
 * already settled at that version (dead or clean: its lease ran out mid-batch and both flushed it)
 * gets no second letter. Returns how many were appended.
 */
export const DEAD_LETTER = script(
  'deadletter',
  `#!lua flags=allow-oom
${NOW}
local added, dead = 0, {}
for i = 5, #KEYS do
  local base = (i - 5) * 6 + 1
  local key = ARGV[base + 1]
  local version = ARGV[base + 2]
  local e = redis.call('HMGET', KEYS[i], 'ver', 'st')
  if e[1] ~= version or e[2] == 'd' then
    redis.call('XADD', KEYS[3], '*', 'key', key, 'version', version, 'del', ARGV[base + 3], 'payload', ARGV[base + 4], 'attempts', ARGV[base + 5], 'first', ARGV[base + 6], 'error', ARGV[1], 'at', string.format('%.0f', nowMs))
    added = added + 1
  end
  if e[1] == version and e[2] == 'd' then
    redis.call('HSET', KEYS[i], 'st', 'x')
    redis.call('ZREM', KEYS[1], key)
    redis.call('ZREM', KEYS[2], key)
    dead[#dead + 1] = key
  end
end
if #dead > 0 then redis.call('SREM', KEYS[4], unpack(dead)) end
return added
`,
)

/**
 * fill: KEYS entry, meta; ARGV payload, del, version, ttl ms. Caches a value read from the store, at
 * the shard's trust epoch, unless the entry is dirty, a dead letter, or at the same or a newer
 * version and trusted (a clean entry from before the epoch is replaced: the store is the truth).
 * Returns 1 when filled.
 */
export const FILL = script(
  'fill',
  `
local e = redis.call('HMGET', KEYS[1], 'ver', 'st', 'te')
local epoch = redis.call('HGET', KEYS[2], 'te') or '0'
local stale = e[2] == 'c' and tonumber(e[3] or '0') < tonumber(epoch)
if e[1] and (e[2] == 'd' or e[2] == 'x' or (tonumber(e[1]) >= tonumber(ARGV[3]) and not stale)) then return 0 end
if ARGV[2] == '1' then
  redis.call('HDEL', KEYS[1], 'p')
  redis.call('HSET', KEYS[1], 'ver', ARGV[3], 'st', 'c', 'del', '1', 'te', epoch)
else
  redis.call('HSET', KEYS[1], 'p', ARGV[1], 'ver', ARGV[3], 'st', 'c', 'del', '0', 'te', epoch)
end
if tonumber(ARGV[4]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return 1
`,
)

/**
 * trust: KEYS meta; ARGV the replication id (`master_replid`) of the node that runs it, as the caller
 * just read it. A node promoted or restarted has a new one: where the shard's recorded id differs (or
 * none is recorded), its trust epoch rises by one and the id is recorded, so every clean entry made
 * before reads as a miss (`READ`). Returns {epoch, 1 if it rose}.
 */
export const TRUST = script(
  'trust',
  `#!lua flags=allow-oom
local cur = redis.call('HMGET', KEYS[1], 'rid', 'te')
local epoch = tonumber(cur[2] or '0')
if cur[1] == ARGV[1] then return {epoch, 0} end
epoch = epoch + 1
redis.call('HSET', KEYS[1], 'rid', ARGV[1], 'te', string.format('%.0f', epoch))
return {epoch, 1}
`,
)

/**
 * renew: KEYS lease; ARGV token, lease ms. Extends the lease while this instance holds it and
 * returns 1; returns 0 when it does not (it ran out, or another instance took it: this one then
 * stops renewing, and never takes a lease back here, so a renewal landing after `releaseLeases`
 * changes nothing). `allow-oom`, like the claim script.
 */
export const RENEW = script(
  'renew',
  `#!lua flags=allow-oom
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`,
)

/** release: KEYS lease; ARGV token. Drops the shard's lease if this instance holds it (at close). */
export const RELEASE = script(
  'release',
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`,
)

/**
 * shard stats: KEYS dirty, vers, dlq, meta. Returns {dirty count, lowest first-unflushed version or
 * '', earliest score among due keys (first-dirty ms, or a retried key's not-before) or '', dead letters,
 * floor (highest version issued) or ''}. A key backing off is counted dirty but not as waiting.
 */
export const STATS = script(
  'stats',
  `${NOW}
local c = redis.call('ZCARD', KEYS[1])
local v = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local d = redis.call('ZRANGE', KEYS[1], '-inf', string.format('%.0f', nowMs), 'BYSCORE', 'LIMIT', 0, 1, 'WITHSCORES')
return {c, v[2] or '', d[2] or '', redis.call('XLEN', KEYS[3]), redis.call('HGET', KEYS[4], 'floor') or ''}
`,
)

/** config: KEYS cfg; ARGV shards, format. Creates the tier's config if absent; returns {shards, format} as stored. */
export const CONFIG = script(
  'config',
  `
redis.call('HSETNX', KEYS[1], 'shards', ARGV[1])
redis.call('HSETNX', KEYS[1], 'format', ARGV[2])
return redis.call('HMGET', KEYS[1], 'shards', 'format')
`,
)

export const ALL_SCRIPTS = [WRITE, CLAIM, READ, ACK, SUPERSEDE, DEAD_LETTER, FILL, STATS, CONFIG, RENEW, RELEASE, TRUST]
