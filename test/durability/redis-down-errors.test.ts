/**
 * What each method of a cache on a Redis tier rejects with while its Redis is down (its own server,
 * killed with -9, with a client that gives up after one reconnect attempt): writes, reads and
 * `flush()` reject with `RedisUnavailableError` (`E_REDIS_UNAVAILABLE`) — a write with `applied:
 * 'unknown'`, a read or a flush, which write nothing of the caller's, with `applied` undefined —
 * never with a raw client error, nor do `open()` (`'open'`) and the dead-letter calls
 * (`'deadLetters'`, `applied: 'unknown'`); `stats()` does not throw (it reports what was last read). Once
 * the server is back on its AOF, the same cache reads, writes and flushes again.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import type pg from 'pg'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { RedisTier } from '../../src/redis.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { redisFixture } from '../helpers/redis-fixture.js'
import { assertUnavailable } from '../helpers/redis-unavailable.js'
import type { OwnRedis } from '../helpers/own-redis.js'
import { uniqueName } from '../helpers/store-servers.js'
import { dropTable, storeRows } from './redis-fault-harness.js'

let server: OwnRedis
let pool: pg.Pool
const table = uniqueName('rdown')

const fixture = redisFixture(['--appendfsync', 'always'])

before(async () => {
  ;({ server, pool } = await fixture.start())
})

fixture.cleanup((pool) => dropTable(pool, table))

/** The rejection of `promise` (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => assert.fail(`expected a rejection, got ${JSON.stringify(value)}`),
    (error: unknown) => error,
  )
}

describe('a cache on a Redis tier while Redis is down', () => {
  it('rejects writes, reads and flush() with RedisUnavailableError; stats() does not throw; all work again once Redis is back', { timeout: 60_000 }, async () => {
    const client = new Redis(server.url, { maxRetriesPerRequest: 1 }).on('error', () => {})
    const tier = new RedisTier({ client, name: 'down', shards: 4 })
    const idle = { intervalMs: 600_000, maxDelayMs: 600_000 }
    const cache = await WriteBehindCache.open({ store: new PostgresStore({ pool, table }), tier, flush: idle, warn: () => {} })
    try {
      await cache.set('a', 1)
      await cache.set('b', 2)
      await server.crash()

      assertUnavailable(await rejection(cache.set('c', 3)), 'write', 'c', 'unknown')
      assertUnavailable(await rejection(cache.delete('a')), 'write', 'a', 'unknown')
      assertUnavailable(await rejection(cache.get('a')), 'read', 'a', undefined)
      assertUnavailable(await rejection(cache.has('b')), 'read', 'b', undefined)
      assertUnavailable(await rejection(cache.getMany(['a', 'b'])), 'read', undefined, undefined)
      assertUnavailable(await rejection(cache.flush()), 'flush', undefined, undefined)
      assertUnavailable(await rejection(cache.flush({ timeoutMs: 30_000 })), 'flush', undefined, undefined)
      assertUnavailable(await rejection(cache.replayDeadLetters()), 'deadLetters', undefined, 'unknown')
      assertUnavailable(await rejection(cache.dropDeadLetters()), 'deadLetters', undefined, 'unknown')
      const other = new Redis(server.url, { maxRetriesPerRequest: 1 }).on('error', () => {})
      try {
        const opening = WriteBehindCache.open({ store: new PostgresStore({ pool, table }), tier: new RedisTier({ client: other, name: 'down', shards: 4 }), warn: () => {} })
        assertUnavailable(await rejection(opening), 'open', undefined, undefined)
      } finally {
        other.disconnect()
      }
      const stats = cache.stats()
      assert.equal(stats.backlog.entries, 2, 'stats() reports the dirty keys as last read')

      await server.restart()
      assert.deepEqual(await cache.getMany(['a', 'b']), [1, 2], 'the AOF kept both writes')
      await cache.set('c', 3)
      await cache.flush({ timeoutMs: 30_000 })
      const rows = await storeRows(pool, table)
      assert.deepEqual(
        ['a', 'b', 'c'].map((k) => rows.get(k)?.value),
        [1, 2, 3],
      )
    } finally {
      await cache.close()
      client.disconnect()
    }
  })
})
