/**
 * What each method of a cache on a Redis tier rejects with while its Redis is down (its own server,
 * killed with -9, with a client that gives up after one reconnect attempt): writes, reads and
 * `flush()` reject with `RedisUnavailableError` (`E_REDIS_UNAVAILABLE`) — a write with `applied:
 * 'unknown'`, a read or a flush, which write nothing of the caller's, with `applied` undefined —
 * never with a raw client error, nor do `open()` (`'open'`) and the dead-letter calls
 * (`'deadLetters'`, `applied: 'unknown'`); `stats()` does not throw (it reports what was last read). Once
 * the server is back on its AOF, the same cache reads, writes and flushes again. Each on ioredis and
 * on node-redis (`CLIENT_KINDS`; node-redis with `disableOfflineQueue`, so a call fails at once while
 * the client reconnects). And node-redis with its defaults, whose offline queue holds a call while
 * it reconnects: the tier's `commandTimeoutMs` bounds it.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import type pg from 'pg'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { RedisTier } from '../../src/redis.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { redisFixture } from '../helpers/redis-fixture.js'
import { assertUnavailable } from '../helpers/redis-unavailable.js'
import type { OwnRedis } from '../helpers/own-redis.js'
import { uniqueName } from '../helpers/store-servers.js'
import { CLIENT_KINDS, tierClient, type ClientKind, type TierClient } from '../helpers/tier-clients.js'
import { RedisTimeoutError } from '../../src/tier/redis/deadline-port.js'
import { dropTable, storeRows } from './redis-fault-harness.js'

let server: OwnRedis
let pool: pg.Pool
const table = uniqueName('rdown')

/**
 * A client of `kind` for a tier: ioredis gives a call up after one reconnect attempt, node-redis at
 * once while not connected. Disconnected in `after` too, so a failed test leaves none reconnecting.
 */
async function downClient(kind: ClientKind): Promise<TierClient> {
  return fixture.track(await tierClient(kind, server.url, { disableOfflineQueue: true }))
}

/** Resolves once a node-redis client has reconnected (ioredis queues calls until it has). */
async function reconnected(made: TierClient): Promise<void> {
  const deadline = Date.now() + 20_000
  while ((made.client as { isReady?: boolean }).isReady === false) {
    if (Date.now() > deadline) throw new Error('the client did not reconnect')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

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

for (const kind of CLIENT_KINDS) {
  describe(`a cache on a Redis tier while Redis is down (${kind})`, () => {
    it('rejects writes, reads and flush() with RedisUnavailableError; stats() does not throw; all work again once Redis is back', { timeout: 60_000 }, async () => {
      const made = await downClient(kind)
      const tier = new RedisTier({ client: made.client, name: `down-${kind}`, shards: 4 })
      const idle = { intervalMs: 600_000, maxDelayMs: 600_000 }
      const cache = await WriteBehindCache.open({ store: new PostgresStore({ pool, table }), tier, flush: idle, warn: () => {} })
      try {
        await cache.set('a', 1)
        await cache.set('b', 2)
        const other = await downClient(kind) // connected before the crash: node-redis takes no client that never was
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
        try {
          const opening = WriteBehindCache.open({ store: new PostgresStore({ pool, table }), tier: new RedisTier({ client: other.client, name: `down-${kind}`, shards: 4 }), warn: () => {} })
          assertUnavailable(await rejection(opening), 'open', undefined, undefined)
        } finally {
          other.disconnect()
        }
        const stats = cache.stats()
        assert.equal(stats.backlog.entries, 2, 'stats() reports the dirty keys as last read')

        await server.restart()
        await reconnected(made)
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
        made.disconnect()
      }
    })
    it('writes in flight when Redis is killed reject with RedisUnavailableError only, never a raw client error', { timeout: 60_000 }, async (t) => {
      await server.restart() // up, whatever the test before left
      const made = await downClient(kind)
      const tier = new RedisTier({ client: made.client, name: `mid-${kind}`, shards: 4 })
      const cache = await WriteBehindCache.open({ store: new PostgresStore({ pool, table }), tier, flush: { intervalMs: 600_000, maxDelayMs: 600_000 }, warn: () => {} })
      const failures: unknown[] = []
      let acked = 0
      let stop = false
      const writer = async (w: number): Promise<void> => {
        for (let i = 0; !stop; i++) {
          await cache.set(`w${w}:${i % 50}`, 'x'.repeat(2000)).then(
            () => acked++,
            (error: unknown) => failures.push(error),
          )
          if (failures.length > 0) await new Promise((resolve) => setTimeout(resolve, 10))
        }
      }
      const writing = Promise.all(Array.from({ length: 16 }, (_, w) => writer(w)))
      try {
        const deadline = Date.now() + 20_000
        while (acked < 500 && failures.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
        assert.ok(acked >= 500 && failures.length === 0, `writes go through before the kill (${acked} acked, ${failures.length} failed)`)
        await server.crash()
        await new Promise((resolve) => setTimeout(resolve, 300))
        stop = true
        await writing
        assert.ok(failures.length > 0, 'some writes failed')
        for (const error of failures) assertUnavailable(error, 'write', (error as { key?: string }).key, 'unknown')
        const causes = new Map<string, number>()
        for (const error of failures) {
          const cause = (error as Error).cause as Error
          const name = `${cause.constructor.name}: ${cause.message.slice(0, 40)}`
          causes.set(name, (causes.get(name) ?? 0) + 1)
        }
        t.diagnostic(`${acked} acked, ${failures.length} failed: ${[...causes].map(([name, n]) => `${n} × ${name}`).join('; ')}`)
      } finally {
        stop = true
        await writing
        await server.restart()
        await cache.close()
        made.disconnect()
      }
    })
  })
}

describe('a cache on a Redis tier on node-redis with its defaults while Redis is down', () => {
  it("rejects a write held in node-redis's offline queue with RedisUnavailableError once commandTimeoutMs passed; works again once Redis is back", { timeout: 60_000 }, async () => {
    const made = fixture.track(await tierClient('node-redis', server.url))
    const tier = new RedisTier({ client: made.client, name: 'offline', shards: 4, commandTimeoutMs: 1000 })
    const cache = await WriteBehindCache.open({ store: new PostgresStore({ pool, table }), tier, flush: { intervalMs: 600_000, maxDelayMs: 600_000 }, warn: () => {} })
    try {
      await cache.set('x', 1)
      await server.crash()
      // Once the client has seen the connection go (a write sent before that fails at once, as in flight).
      while ((made.client as { isReady: boolean }).isReady) await new Promise((resolve) => setTimeout(resolve, 5))
      const started = Date.now()
      const error = await rejection(cache.set('y', 2))
      const waited = Date.now() - started
      assertUnavailable(error, 'write', 'y', 'unknown')
      assert.ok((error as Error).cause instanceof RedisTimeoutError, `bounded by commandTimeoutMs: ${String((error as Error).cause)}`)
      assert.ok(waited >= 900 && waited < 4000, `rejected after ${waited} ms`)
      await server.restart()
      await reconnected(made)
      await cache.set('z', 3)
      assert.deepEqual(await cache.getMany(['x', 'z']), [1, 3])
      await cache.flush({ timeoutMs: 30_000 })
      const rows = await storeRows(pool, table)
      assert.deepEqual([rows.get('x')?.value, rows.get('z')?.value], [1, 3])
    } finally {
      await cache.close()
      made.disconnect()
    }
  })
})
