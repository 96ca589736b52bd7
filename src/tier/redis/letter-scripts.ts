/**
 * The scripts that change a Redis tier's dead-letter streams (`dead-letters.ts`), after the rules
 * of `scripts.ts`: one shard each, bounded by `CHUNK`. Not loaded at open (the CLI and replays use
 * them rarely): the port loads them on their first `NOSCRIPT`.
 */
import { NOW, script } from './lua.js'

/**
 * drop letters: KEYS dlq, entries…; ARGV stream id, version per letter. Deletes each letter; an
 * entry still dead at its version is deleted too (the next read loads the store's row). Returns
 * how many letters were deleted.
 */
export const DROP_LETTERS = script(
  'dropletters',
  `#!lua flags=allow-oom
local dropped = 0
for i = 2, #KEYS do
  local id = ARGV[(i - 2) * 2 + 1]
  local version = ARGV[(i - 2) * 2 + 2]
  local gone = redis.call('XDEL', KEYS[1], id)
  dropped = dropped + gone
  local e = redis.call('HMGET', KEYS[i], 'ver', 'st')
  if gone == 1 and e[1] == version and e[2] == 'x' then redis.call('DEL', KEYS[i]) end
end
return dropped
`,
)

/**
 * requeue letters: KEYS dlq, dirty, vers, entries…; ARGV stream id, key, version, del, payload per
 * letter. A letter whose entry holds a newer version is deleted (code 0); a letter already gone is
 * skipped (code 2); otherwise the entry is set to the letter's value and version, dirty, and the
 * letter deleted (code 1). Returns the codes in order.
 */
export const REQUEUE_LETTERS = script(
  'requeueletters',
  `${NOW}
local codes = {}
for i = 4, #KEYS do
  local base = (i - 4) * 5
  local id, key, version = ARGV[base + 1], ARGV[base + 2], ARGV[base + 3]
  local ver = redis.call('HGET', KEYS[i], 'ver')
  if redis.call('XDEL', KEYS[1], id) == 0 then
    codes[#codes + 1] = 2
  elseif ver and tonumber(ver) > tonumber(version) then
    codes[#codes + 1] = 0
  else
    if ARGV[base + 4] == '1' then
      redis.call('HDEL', KEYS[i], 'p')
      redis.call('HSET', KEYS[i], 'ver', version, 'st', 'd', 'del', '1', 'since', string.format('%.0f', nowMs))
    else
      redis.call('HSET', KEYS[i], 'p', ARGV[base + 5], 'ver', version, 'st', 'd', 'del', '0', 'since', string.format('%.0f', nowMs))
    end
    -- A replayed letter gets a fresh retry budget.
    redis.call('HDEL', KEYS[i], 'att', 'ff')
    redis.call('PERSIST', KEYS[i])
    redis.call('ZADD', KEYS[2], 'NX', string.format('%.0f', nowMs), key)
    redis.call('ZADD', KEYS[3], 'NX', version, key)
    codes[#codes + 1] = 1
  end
end
return codes
`,
)
