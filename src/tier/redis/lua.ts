/**
 * What every Lua script of the Redis tier is built with (`scripts.ts` has the rules they follow):
 * `script` names a source and its SHA1 (what EVALSHA calls it by), `NOW` reads Redis's clock into
 * `nowMs` (the scripts never take an application's clock).
 */
import { createHash } from 'node:crypto'
import type { RedisScript } from './client-port.js'

export function script(name: string, source: string): RedisScript {
  return { name, source, sha: createHash('sha1').update(source).digest('hex') }
}

export const NOW = `
local t = redis.call('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`
