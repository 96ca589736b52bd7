/**
 * What a failover loses on a Redis tier, and what it must not make the cache say. A primary and a
 * replica of the test's own; the replica paused and cut off (`CLIENT KILL TYPE replica`), so that
 * writes made then are on the primary only; the primary killed with -9 and the replica promoted.
 *
 * - A value the old primary flushed to the store and marked clean, while the replica held the key
 *   clean at an older version: after the promotion the cache serves the store's value, not the
 *   replica's (trust epochs, `src/tier/redis/trust.ts`).
 * - A `store` write-through whose entry the failover lost, and which never reached the store:
 *   its promise rejects with `WriteLostError` instead of waiting for a flush that cannot come.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import type pg from 'pg'
import type { Store, StoreOp } from '../../src/contracts/store.js'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { WriteLostError } from '../../src/errors.js'
import { RedisTier } from '../../src/redis.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { RedisLayout } from '../../src/tier/redis/layout.js'
import { FaultProxy } from '../helpers/fault-proxy.js'
import { promote, replicate, type OwnRedis } from '../helpers/own-redis.js'
import { redisFixture } from '../helpers/redis-fixture.js'
import { storeRows } from './redis-fault-harness.js'

const fixture = redisFixture()
let pool: pg.Pool

before(async () => {
  pool = await fixture.pool()
})

const idle = { intervalMs: 200, maxDelayMs: 600_000 }

function client(url: string): Redis {
  return fixture.track(new Redis(url, { maxRetriesPerRequest: 3 }).on('error', () => {}))
}

async function pair(): Promise<{ primary: OwnRedis; replica: OwnRedis; table: string }> {
  const [primary, replica] = (await fixture.servers(2)) as [OwnRedis, OwnRedis]
  await replicate(replica, primary)
  return { primary, replica, table: await fixture.auditedTable('rtrust') }
}

/** Stops the replica from getting anything more from `primary`. */
async function cutOff(primary: OwnRedis, replica: OwnRedis): Promise<void> {
  await client(primary.url).call('WAIT', 1, 2000) // it has everything so far
  replica.pause()
  await client(primary.url).call('CLIENT', 'KILL', 'TYPE', 'replica')
}

async function failOver(primary: OwnRedis, replica: OwnRedis): Promise<void> {
  await primary.crash()
  replica.resume()
  await promote(replica)
}

/** The shared PostgreSQL, whose batches can be held back (a slow store): `hold()`, then `release()`. */
class HeldStore implements Store {
  private gate: Promise<void> | undefined
  private open: (() => void) | undefined
  constructor(private readonly inner: PostgresStore) {}
  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve))
  }
  release(): void {
    this.open?.()
    this.gate = undefined
  }
  async writeBatch(ops: readonly StoreOp[]): ReturnType<Store['writeBatch']> {
    await this.gate
    return this.inner.writeBatch(ops)
  }
  load(keys: readonly string[]): ReturnType<Store['load']> {
    return this.inner.load(keys)
  }
  close(): Promise<void> {
    return this.inner.close()
  }
}

describe('a Redis failover that loses the primary’s tail', () => {
  it('serves the value the old primary flushed to the store, not the promoted replica’s older clean copy', { timeout: 60_000 }, async () => {
    const { primary, replica, table } = await pair()
    const open = (url: string): Promise<WriteBehindCache> =>
      WriteBehindCache.open({
        store: new PostgresStore({ pool, table }),
        tier: new RedisTier({ client: client(url), name: 'trust', shards: 4 }),
        durability: 'memory',
        flush: idle,
        closeTimeoutMs: 3000,
        warn: () => {},
      })
    const before = await open(primary.url)
    await before.set('k', 'v1')
    await before.set('other', 'o1')
    await before.flush() // both clean at v1, on the replica too
    await cutOff(primary, replica)
    await before.set('k', 'v2')
    await before.flush() // the store has v2; only the old primary had it clean
    assert.equal((await storeRows(pool, table)).get('k')?.value, 'v2')
    await failOver(primary, replica)

    const afterwards = await open(replica.url)
    try {
      assert.equal(await afterwards.get('k'), 'v2', 'the store’s value, not the promoted replica’s clean v1')
      assert.equal(await afterwards.get('other'), 'o1', 'an entry the failover did not touch reads the same')
      const layout = new RedisLayout('trust', 4)
      const admin = client(replica.url)
      const raw = await admin.hget(layout.entry(layout.shardOf('k'), 'k'), 'ver')
      assert.equal(Number(raw), (await storeRows(pool, table)).get('k')?.version, 'the stale entry was filled again with the store’s row')
      assert.equal(await afterwards.get('k'), 'v2')
      const [te, epoch] = await Promise.all([admin.hget(layout.entry(layout.shardOf('other'), 'other'), 'te'), admin.hget(layout.meta(layout.shardOf('other')), 'te')])
      assert.ok(
        epoch !== null && Number(epoch) > 0 && te === epoch,
        `an untouched clean entry read once is trusted again (filled at epoch ${String(epoch)}: ${String(te)}), not read from the store each time`,
      )
      assert.equal(await afterwards.update('k', (v) => `${String(v)}+`), 'v2+', 'a read-modify-write starts from the store’s value')
      await afterwards.flush()
      assert.equal((await storeRows(pool, table)).get('k')?.value, 'v2+')
    } finally {
      await Promise.all([before.close(), afterwards.close()])
    }
  })

  it('rejects a store write-through the failover lost with WriteLostError; one whose flush was under way resolves', { timeout: 60_000 }, async () => {
    const { primary, replica, table } = await pair()
    const proxy = new FaultProxy('127.0.0.1', primary.port)
    const url = `redis://127.0.0.1:${await proxy.listen()}`
    const store = new HeldStore(new PostgresStore({ pool, table }))
    const flush = { ...idle, concurrency: 1 }
    const cache = await WriteBehindCache.open({ store, tier: new RedisTier({ client: client(url), name: 'lost', shards: 4 }), durability: 'memory', flush, closeTimeoutMs: 3000, warn: () => {} })
    const settled = (write: Promise<void>): Promise<unknown> =>
      write.then(
        () => 'resolved',
        (error: unknown) => error,
      )
    try {
      await cache.set('w', 1)
      await cache.set('h', 1)
      await cache.flush()
      await cutOff(primary, replica)
      store.hold()
      // h's flush is under way (held in the store); w waits behind it (one flight at a time): the
      // failover comes before w is ever claimed, so only the old primary ever had w = 2.
      const held = settled(cache.set('h', 2, { durability: 'store' }))
      await new Promise((resolve) => setTimeout(resolve, 200))
      const lost = settled(cache.set('w', 2, { durability: 'store' }))
      await new Promise((resolve) => setTimeout(resolve, 200))
      await failOver(primary, replica)
      proxy.retarget(replica.port)
      store.release()
      assert.equal(await held, 'resolved', 'h = 2 reached the store: its write-through resolves')
      const error = await Promise.race([lost, new Promise((resolve) => setTimeout(() => resolve('still pending after 15 s'), 15_000))])
      assert.ok(error instanceof WriteLostError, `the write-through rejects with WriteLostError, not ${String(error)}`)
      assert.equal(error.code, 'E_WRITE_LOST')
      assert.equal(error.key, 'w')
      const rows = await storeRows(pool, table)
      assert.equal(rows.get('w')?.value, 1, 'the store never had w = 2')
      assert.equal(rows.get('h')?.value, 2)
      assert.equal(await cache.get('w'), 1)
      assert.equal(await cache.get('h'), 2, 'served from the store, not the promoted replica’s clean h = 1')
    } finally {
      store.release()
      await cache.close()
      await proxy.close()
    }
  })
})
