/**
 * A Redis tier's primary killed with -9 and its replica promoted (REPLICAOF NO ONE), with the
 * shared PostgreSQL as the store. Under load at durability `replicated`, behind one address (a
 * proxy moved to the new primary, as a VIP or Sentinel would), the replica lagging at the moment
 * of the crash: no write whose ack held is lost,
 * the writers go on on the promoted replica (whose script cache is empty: NOSCRIPT), and its
 * versions stay above everything the store holds. Then a forced loss: the replica paused and cut
 * off (`CLIENT KILL TYPE replica`), a write is reported not confirmed, the primary is killed: that
 * write is gone, no other is, and a key whose newer value reached the store before the crash keeps
 * it (the promoted replica's older copy is superseded, not flushed over it).
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import type pg from 'pg'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { ReplicationNotConfirmedError } from '../../src/errors.js'
import { RedisTier } from '../../src/redis.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { WRITE } from '../../src/tier/redis/scripts.js'
import { FaultProxy } from '../helpers/fault-proxy.js'
import { promote, replicate, type OwnRedis } from '../helpers/own-redis.js'
import { redisFixture } from '../helpers/redis-fixture.js'
import { checkLedger, Ledger, RecordingTier, redisState, storeRows, versionsDown, writeLoops } from './redis-fault-harness.js'

const fixture = redisFixture()
let pool: pg.Pool

before(async () => {
  pool = await fixture.pool()
})

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

function table(): Promise<string> {
  return fixture.auditedTable('rfail')
}

function client(url: string): Redis {
  return fixture.track(new Redis(url, { maxRetriesPerRequest: 5 }).on('error', () => {}))
}

describe('a Redis primary killed and its replica promoted', () => {
  it('loses no replicated write whose ack held; writers go on on the new primary with versions above the store', { timeout: 120_000 }, async () => {
    const [primary, replica, spare] = (await fixture.servers(3)) as [OwnRedis, OwnRedis, OwnRedis]
    await replicate(replica, primary)
    const proxy = new FaultProxy('127.0.0.1', primary.port)
    const address = `redis://127.0.0.1:${await proxy.listen()}`
    const rows = await table()
    const tier = new RecordingTier({ client: client(address), name: 'failover', shards: 4, leaseMs: 500, replicaTimeoutMs: 1000 })
    const cache = await WriteBehindCache.open({ store: new PostgresStore({ pool, table: rows }), tier, durability: 'replicated', flush: { intervalMs: 500, maxDelayMs: 2000 }, warn: () => {} })
    const ledger = new Ledger()
    let stop = false
    let writing = writeLoops(cache, tier, ledger, { lanes: 4, keys: 400, stop: () => stop })
    try {
      await sleep(1500)
      // The replica lags at the moment of the crash (stopped and cut off for 200 ms, under
      // replicaTimeoutMs): writes of that moment must not be acknowledged, since it will not have them.
      replica.pause()
      await client(primary.url).call('CLIENT', 'KILL', 'TYPE', 'replica')
      await sleep(200)
      await primary.crash()
      stop = true // the writes on their way finish on the new primary; no more on these keys
      replica.resume()
      const ackedBefore = ledger.acks
      await promote(replica)
      const storedAtFailover = Math.max(0, ...[...(await storeRows(pool, rows)).values()].map((r) => r.version))
      assert.deepEqual(await client(replica.url).call('SCRIPT', 'EXISTS', WRITE.sha), [0], 'the promoted replica has no scripts: the writers meet NOSCRIPT')
      proxy.retarget(replica.port)
      await writing
      await replicate(spare, replica) // the new primary gets a replica: writes are confirmed again
      const acksAtPromotion = ledger.acks
      // Other keys after the failover, so that no later write hides the loss of an earlier one.
      stop = false
      writing = writeLoops(cache, tier, ledger, { lanes: 4, keys: 40, stop: () => stop, prefix: 'after' })
      // Up to 30 s for the first acks (the client's reconnect backoff on a loaded machine), then 1 s more.
      for (const end = Date.now() + 30_000; ledger.acks <= acksAtPromotion && Date.now() < end;) await sleep(50)
      await sleep(1000)
      stop = true
      await writing
      assert.ok(ackedBefore > 50, `writes were acknowledged before the crash (${ackedBefore})`)
      assert.ok(ledger.acks > acksAtPromotion, 'writes went on on the promoted replica (scripts loaded again)')
      const unexpected = [...ledger.errors.keys()].filter((code) => code !== 'E_REDIS_UNAVAILABLE')
      assert.deepEqual(unexpected, [], 'writes in the gap failed only as unanswered')
      const after = [...ledger.keys].filter(([key]) => key.startsWith('after')).flatMap(([, k]) => [...k.acked.values(), ...k.unconfirmed.values()])
      assert.ok(after.length > 0 && Math.min(...after) > storedAtFailover, 'every version made after the failover is above everything the store held')

      await cache.flush({ timeoutMs: 30_000 })
      const admin = client(replica.url)
      const { entries, dirty } = await redisState(admin, tier, [...ledger.keys.keys()])
      assert.equal(dirty, 0)
      assert.deepEqual(checkLedger(ledger, await storeRows(pool, rows), entries), [], 'every acknowledged write is in the store')
      assert.deepEqual(await versionsDown(pool, rows), [])
      console.log(`failover: ${ackedBefore} acknowledged before the crash, ${ledger.acks} in all, errors ${JSON.stringify([...ledger.errors])}`)
    } finally {
      stop = true
      await writing
      await cache.close()
      await proxy.close()
    }
  })

  it('a forced loss (replica paused and cut off) is reported not confirmed and is the only write lost; a newer store row is not overwritten', { timeout: 120_000 }, async () => {
    const [primary, replica] = (await fixture.servers(2)) as [OwnRedis, OwnRedis]
    await replicate(replica, primary)
    const rows = await table()
    const store = (): PostgresStore => new PostgresStore({ pool, table: rows })
    const idle = { intervalMs: 600_000, maxDelayMs: 600_000 }
    const open = (url: string, name: string): Promise<WriteBehindCache> =>
      WriteBehindCache.open({ store: store(), tier: new RedisTier({ client: client(url), name, shards: 4, replicaTimeoutMs: 2000 }), durability: 'replicated', flush: idle, warn: () => {} })
    const loss = await open(primary.url, 'loss')
    const kept = await open(primary.url, 'kept')
    for (let i = 0; i < 10; i++) await loss.set(`k${i}`, i)
    await kept.set('s', 1)
    replica.pause()
    await client(primary.url).call('CLIENT', 'KILL', 'TYPE', 'replica')
    const notConfirmed = await loss.set('lost', 'x').then(
      () => undefined,
      (error: unknown) => error,
    )
    assert.ok(notConfirmed instanceof ReplicationNotConfirmedError && notConfirmed.replicas === 0, String(notConfirmed))
    await assert.rejects(kept.set('s', 2), ReplicationNotConfirmedError)
    await kept.flush() // s = 2 reaches the store; the replica holds s = 1, dirty
    const stored = (await storeRows(pool, rows)).get('s')
    assert.equal(stored?.value, 2)
    await primary.crash()
    replica.resume()
    await promote(replica)

    const loss2 = await open(replica.url, 'loss')
    const kept2 = await open(replica.url, 'kept')
    try {
      await Promise.all([loss2.flush({ timeoutMs: 30_000 }), kept2.flush({ timeoutMs: 30_000 })])
      const after = await storeRows(pool, rows)
      for (let i = 0; i < 10; i++) assert.equal(after.get(`k${i}`)?.value, i, `k${i}, confirmed, survived`)
      assert.equal(after.has('lost'), false, 'the write reported not confirmed is gone')
      assert.equal(await loss2.get('lost'), undefined)
      assert.equal(after.get('s')?.version, stored?.version, "the store's newer s was not overwritten")
      assert.equal(await kept2.get('s'), 2, 'the promoted replica dropped its older copy: the store is read')
      await kept2.set('s', 3, { durability: 'memory' }) // the promoted replica has no replica of its own
      await kept2.flush()
      const last = (await storeRows(pool, rows)).get('s')
      assert.ok(last !== undefined && last.value === 3 && last.version > (stored?.version ?? 0), 'a write after the failover gets a version above the store')
      assert.deepEqual(await versionsDown(pool, rows), [])
    } finally {
      const closed = await Promise.all([loss, kept, loss2, kept2].map((c) => c.close()))
      assert.deepEqual(
        closed.map((r) => r.drained),
        [false, false, true, true],
        'closing a cache whose Redis is gone reports it undrained (it does not reject)',
      )
    }
  })
})
