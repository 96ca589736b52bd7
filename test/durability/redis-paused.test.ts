/**
 * A Redis that stops answering without closing the connection (its own server, paused with
 * SIGSTOP: a stall, or a partition that sends no RST) must not hang the cache: with the tier's
 * `commandTimeoutMs`, writes, reads, `flush()`, `open()` and the dead-letter calls reject with
 * `RedisUnavailableError` (a write with `applied: 'unknown'`), and a `flush()` already waiting when
 * Redis stops answering rejects the same way. The client is ioredis with its defaults (no command
 * timeout, 20 reconnect attempts): it would wait for ever. After SIGCONT the same cache writes,
 * reads and flushes; nothing acknowledged is lost, and a write that timed out is either in Redis and
 * then in the store at the same version, or in neither. No timing floor: each call only has to
 * settle within a generous bound.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import type pg from 'pg'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { RedisTier, RedisTimeoutError } from '../../src/redis.js'
import { redisFixture } from '../helpers/redis-fixture.js'
import { assertUnavailable } from '../helpers/redis-unavailable.js'
import type { OwnRedis } from '../helpers/own-redis.js'
import { uniqueName } from '../helpers/store-servers.js'
import { dropTable, redisState, storeRows } from './redis-fault-harness.js'

let server: OwnRedis
let pool: pg.Pool
const table = uniqueName('rpause')
/** Short, so that the file runs quickly (the default is 5 s), but past the 1 s WAIT a write made just after SIGCONT can queue behind. */
const TIMEOUT_MS = 1_500
/** What "settles in about the timeout" is allowed to take on a loaded machine. */
const SETTLES_WITHIN_MS = 20_000

const fixture = redisFixture(['--appendfsync', 'always'])

before(async () => {
  ;({ server, pool } = await fixture.start())
})

// Never leave the server stopped, whatever a test did (the fixture then kills it by pid).
after(() => {
  try {
    server.resume()
  } catch {
    // not running
  }
})

fixture.cleanup((pool) => dropTable(pool, table))

/** The rejection of `promise`, which must settle within SETTLES_WITHIN_MS (fails the test when it resolves or hangs). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const hang = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still waiting after ${SETTLES_WITHIN_MS} ms`)), SETTLES_WITHIN_MS)))
  try {
    return await Promise.race([
      promise.then(
        (value) => assert.fail(`expected a rejection, got ${JSON.stringify(value)}`),
        (error: unknown) => error,
      ),
      hang,
    ])
  } finally {
    clearTimeout(timer)
  }
}

function timedOut(error: unknown, operation: string, key: string | undefined, applied: 'unknown' | undefined): void {
  assertUnavailable(error, operation, key, applied)
  assert.ok((error as Error).cause instanceof RedisTimeoutError, `timed out, not ${String((error as Error).cause)}`)
}

/** A client with ioredis's defaults: no command timeout, and it never gives up on a connection that stays open. */
function defaultClient(): Redis {
  return fixture.track(new Redis(server.url).on('error', () => {}))
}

/**
 * For each key whose write timed out: either Redis holds that value and the store holds it at the
 * same version, or Redis does not hold it and neither does the store (never one without the other).
 */
async function wholeOrAbsent(tier: RedisTier, writes: ReadonlyMap<string, unknown>): Promise<void> {
  const rows = await storeRows(pool, table)
  const entries = await tier.read([...writes.keys()])
  for (const [i, [key, value]] of [...writes].entries()) {
    const entry = entries[i]
    const inRedis = entry !== undefined && entry.encoded === (value === undefined ? null : JSON.stringify(value))
    const row = rows.get(key)
    const inStore = row !== undefined && (value === undefined ? row.deleted : !row.deleted && JSON.stringify(row.value) === JSON.stringify(value))
    assert.equal(inStore, inRedis, `${key}: in Redis ${String(inRedis)}, in the store ${String(inStore)}`)
    if (inRedis) assert.equal(row?.version, entry.version, `${key}: the store holds the version Redis holds`)
  }
}

describe('a cache on a Redis tier while Redis is paused (SIGSTOP)', () => {
  it('rejects set (memory and replicated), delete, get, getMany and flush() with RedisUnavailableError within about commandTimeoutMs; all work again after SIGCONT', { timeout: 120_000 }, async () => {
    const client = defaultClient()
    const admin = fixture.track(server.client())
    const tier = new RedisTier({ client, name: 'paused', shards: 4, commandTimeoutMs: TIMEOUT_MS })
    const cache = await WriteBehindCache.open({ store: new PostgresStore({ pool, table }), tier, flush: { intervalMs: 50, maxDelayMs: 100 }, warn: () => {} })
    try {
      await cache.set('a', 1)
      await cache.flush({ timeoutMs: 30_000 })
      await cache.set('b', 2) // acknowledged, maybe not flushed yet
      server.pause()
      let resumed = false
      try {
        timedOut(await rejection(cache.set('c', 3)), 'write', 'c', 'unknown')
        timedOut(await rejection(cache.delete('a')), 'write', 'a', 'unknown')
        timedOut(await rejection(cache.set('r', 5, { durability: 'replicated' })), 'write', 'r', 'unknown')
        timedOut(await rejection(cache.get('b')), 'read', 'b', undefined)
        timedOut(await rejection(cache.getMany(['a', 'b'])), 'read', undefined, undefined)
        timedOut(await rejection(cache.flush()), 'flush', undefined, undefined)
        timedOut(await rejection(cache.flush({ timeoutMs: 60_000 })), 'flush', undefined, undefined)
        assert.doesNotThrow(() => cache.stats())
        server.resume()
        resumed = true
      } finally {
        if (!resumed) server.resume()
      }

      // Writes, reads and flush() work again on the same client and cache.
      await cache.set('d', 4)
      assert.equal(await cache.get('b'), 2)
      assert.equal(await cache.get('d'), 4)
      await cache.flush({ timeoutMs: 30_000 })
      const rows = await storeRows(pool, table)
      assert.equal(rows.get('b')?.value, 2, 'the write acknowledged before the pause is in the store')
      assert.equal(rows.get('d')?.value, 4)
      await wholeOrAbsent(
        tier,
        new Map<string, unknown>([
          ['c', 3],
          ['a', undefined],
          ['r', 5],
        ]),
      )
      assert.equal((await redisState(admin, tier, [])).dirty, 0, 'nothing is left dirty')
    } finally {
      await cache.close()
    }
  })

  it('a flush() already waiting when Redis pauses rejects with RedisUnavailableError, not at its timeoutMs; the writes are flushed after SIGCONT', { timeout: 120_000 }, async () => {
    const client = defaultClient()
    const tier = new RedisTier({ client, name: 'waiting', shards: 4, commandTimeoutMs: TIMEOUT_MS })
    const cache = await WriteBehindCache.open({ store: new PostgresStore({ pool, table }), tier, flush: { intervalMs: 50, maxDelayMs: 100 }, warn: () => {} })
    // The store holds the batch (a real lock on its table), so the flush waits; then Redis stops answering.
    const locker = await pool.connect()
    let locked = false
    try {
      await cache.set('w1', 1)
      await cache.set('w2', 2)
      await locker.query('BEGIN')
      await locker.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`)
      locked = true
      const flushing = cache.flush({ timeoutMs: 600_000 })
      let settled = false
      void flushing.then(
        () => (settled = true),
        () => (settled = true),
      )
      await new Promise((resolve) => setTimeout(resolve, 300))
      assert.equal(settled, false, 'the flush waits for the store')
      server.pause()
      try {
        timedOut(await rejection(flushing), 'flush', undefined, undefined)
      } finally {
        server.resume()
      }
    } finally {
      if (locked) await locker.query('ROLLBACK')
      locker.release()
    }
    try {
      await cache.flush({ timeoutMs: 60_000 })
      const rows = await storeRows(pool, table)
      assert.deepEqual([rows.get('w1')?.value, rows.get('w2')?.value], [1, 2])
    } finally {
      await cache.close()
    }
  })

  it('open(), replayDeadLetters() and dropDeadLetters() reject with RedisUnavailableError; the tier opens after SIGCONT', { timeout: 120_000 }, async () => {
    const open = (tier: RedisTier): Promise<WriteBehindCache> => WriteBehindCache.open({ store: new PostgresStore({ pool, table }), tier, flush: { intervalMs: 50 }, warn: () => {} })
    const cache = await open(new RedisTier({ client: defaultClient(), name: 'letters', shards: 4, commandTimeoutMs: TIMEOUT_MS }))
    const late = new RedisTier({ client: defaultClient(), name: 'letters', shards: 4, commandTimeoutMs: TIMEOUT_MS })
    try {
      server.pause()
      try {
        timedOut(await rejection(open(late)), 'open', undefined, undefined)
        timedOut(await rejection(cache.replayDeadLetters()), 'deadLetters', undefined, 'unknown')
        timedOut(await rejection(cache.dropDeadLetters()), 'deadLetters', undefined, 'unknown')
      } finally {
        server.resume()
      }
      const reopened = await open(late) // a tier whose open() failed can be opened again
      await reopened.set('x', 1)
      assert.equal(await cache.get('x'), 1)
      assert.deepEqual(await cache.replayDeadLetters(), { replayed: 0, superseded: 0, failed: 0, busy: 0 })
      assert.equal(await cache.dropDeadLetters(), 0)
      await reopened.close()
    } finally {
      await cache.close()
    }
  })
})
