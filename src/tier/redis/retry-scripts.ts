/**
 * A failed op's retry state, kept in Redis so that it survives the worker that flushed it
 * (REDIS-TIER.md, "Flush"): the entry hash holds `att` (failed attempts) and `ff` (when the first
 * failed, ms), and the dirty set's score becomes the time before which no instance claims the key
 * again (its not-before); the key joins the shard's retry set (`layout.ts`), so that the claim and
 * the ack read those fields for it. Most keys never fail: for them the two scripts look for neither
 * field. After the rules of `scripts.ts`: one shard, bounded by `CHUNK`.
 *
 * Both are changed only while the entry still holds the failed op's version (compare-and-swap): a
 * key written since carries a new version, which starts at 0 attempts and is due at once (the write
 * script drops the old state), so an old value's failures never delay or dead-letter a new one.
 */
import { NOW, script } from './lua.js'

/**
 * `retrying(set, list, from, step)`: which of the keys list[from], list[from + step], … are in the shard's
 * retry set (`layout.ts`), as a table key → true. The set is empty or holds a few failing keys:
 * then one SCARD, or its members, costs less than asking for each key (a SMISMEMBER of the 128
 * keys a claim looks at cost Redis about 4k instructions per row under callgrind: 5% of a row).
 */
export const RETRYING = `
local function retrying(set, list, from, step)
  local found = {}
  local size = redis.call('SCARD', set)
  if size == 0 then return found end
  if size <= 128 then
    for _, k in ipairs(redis.call('SMEMBERS', set)) do found[k] = true end
    return found
  end
  local keys = {}
  for i = from, #list, step do keys[#keys + 1] = list[i] end
  if #keys == 0 then return found end
  local member = redis.call('SMISMEMBER', set, unpack(keys))
  for i, k in ipairs(keys) do if member[i] == 1 then found[k] = true end end
  return found
end
`

/**
 * retry: KEYS dirty, retry, entries…; ARGV delay ms, then key, version, attempts per entry. For each
 * entry still dirty at `version`: `att` rises to `attempts` (never falls: two workers counting the
 * same failures do not undo each other), `ff` is set once, the key joins the retry set, and its
 * score moves forward to Redis TIME + delay (never back). Returns how many entries were recorded.
 */
export const RETRY = script(
  'retry',
  `#!lua flags=allow-oom
${NOW}
local notBefore = string.format('%.0f', nowMs + tonumber(ARGV[1]))
local recorded = {}
for i = 3, #KEYS do
  local base = (i - 3) * 3 + 1
  local key, version, attempts = ARGV[base + 1], ARGV[base + 2], tonumber(ARGV[base + 3])
  local e = redis.call('HMGET', KEYS[i], 'ver', 'st', 'att')
  if e[1] == version and e[2] == 'd' then
    if attempts > (tonumber(e[3]) or 0) then redis.call('HSET', KEYS[i], 'att', attempts) end
    redis.call('HSETNX', KEYS[i], 'ff', string.format('%.0f', nowMs))
    redis.call('ZADD', KEYS[1], 'XX', 'GT', notBefore, key)
    recorded[#recorded + 1] = key
  end
end
if #recorded > 0 then redis.call('SADD', KEYS[2], unpack(recorded)) end
return #recorded
`,
)
