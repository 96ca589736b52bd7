/**
 * A Redis tier on a Sentinel-backed ioredis client (`new Redis({ sentinels, name })`), with the
 * shared PostgreSQL as the store: a primary, two replicas and a Sentinel of our own (quorum 1,
 * short timeouts). Writers at durability `replicated` go on while the primary is killed with -9 and
 * Sentinel promotes a replica (and points the other at it); the old primary comes back on its AOF,
 * Sentinel makes it a replica, and the new primary is killed in turn. Through the same client and the same
 * open cache: writes resume on the new primary, every write whose ack held is in the store, no
 * row's version goes down, the trust epoch of every shard is raised on each new primary (its clean
 * entries are not trusted), and nothing is left dirty. A client connected to a replica (its URL, or
 * Sentinel with `role: 'slave'`) is refused at open.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import type pg from 'pg'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { RedisConfigError } from '../../src/errors.js'
import { RedisTier } from '../../src/redis.js'
import { infoFields } from '../../src/tier/redis/startup.js'
import { replicate, type OwnRedis } from '../helpers/own-redis.js'
import { redisFixture } from '../helpers/redis-fixture.js'
import { failedOver, startOwnSentinel, type OwnSentinel } from '../helpers/own-sentinel.js'
import { uniqueName } from '../helpers/store-servers.js'
import { auditedTable, checkLedger, dropTable, Ledger, RecordingTier, redisState, storeRows, versionsDown, VersionWatch, writeLoops } from './redis-fault-harness.js'

const MASTER = 'wbmaster'
const fixture = redisFixture()
const sentinels: OwnSentinel[] = []
const table = uniqueName('rsent')
let pool: pg.Pool
let primary: OwnRedis
let replicaA: OwnRedis
let replicaB: OwnRedis
let sentinel: OwnSentinel

before(async () => {
  pool = await fixture.pool()
  await auditedTable(pool, table)
  ;[primary, replicaA, replicaB] = (await fixture.servers(3)) as [OwnRedis, OwnRedis, OwnRedis]
  await Promise.all([replicate(replicaA, primary), replicate(replicaB, primary)])
  sentinel = await startOwnSentinel({ name: MASTER, primaryPort: primary.port })
  sentinels.push(sentinel)
  await sentinel.knowsReplicas(MASTER, 2)
})

fixture.cleanup(async (pool) => {
  await Promise.all(sentinels.map((s) => s.destroy()))
  await dropTable(pool, table)
})

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

function admin(port: number): Redis {
  return fixture.track(new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 }).on('error', () => {}))
}

/** Each shard's trust epoch and recorded replication id, read on the node at `port`. */
async function epochs(tier: RecordingTier, port: number): Promise<Array<{ te: number; rid: string | null | undefined }>> {
  const node = admin(port)
  return Promise.all(
    Array.from({ length: tier.layout.shards }, async (_, shard) => {
      const [rid, te] = await node.hmget(tier.layout.meta(shard), 'rid', 'te')
      return { te: Number(te ?? 0), rid }
    }),
  )
}

function sentinelClient(options: { role?: 'master' | 'slave' } = {}): Redis {
  return fixture.track(new Redis({ sentinels: [{ host: '127.0.0.1', port: sentinel.port }], name: MASTER, maxRetriesPerRequest: 50, ...options }).on('error', () => {}))
}

describe('a Redis tier behind Sentinel', () => {
  it('refuses a client connected to a replica (a replica URL, or Sentinel with role slave): RedisConfigError, setting role', async () => {
    const onReplica = admin(replicaA.port)
    for (const client of [onReplica, sentinelClient({ role: 'slave' })]) {
      await assert.rejects(
        WriteBehindCache.open({ store: new PostgresStore({ pool, table }), tier: new RedisTier({ client, name: 'sentinel-replica' }), warn: () => {} }),
        (e: unknown) => e instanceof RedisConfigError && e.code === 'E_REDIS_CONFIG' && e.setting === 'role',
      )
    }
    const cache = await WriteBehindCache.open({ store: new PostgresStore({ pool, table }), tier: new RedisTier({ client: sentinelClient(), name: 'sentinel-primary' }), warn: () => {} })
    await cache.close()
  })

  it('goes on through two failovers with the same client: no acknowledged write lost, versions up, trust epoch raised, dirty 0', { timeout: 240_000 }, async () => {
    const tier = new RecordingTier({ client: sentinelClient(), name: 'sentinel', shards: 4, leaseMs: 500, replicaTimeoutMs: 1000 })
    const cache = await WriteBehindCache.open({ store: new PostgresStore({ pool, table }), tier, durability: 'replicated', flush: { intervalMs: 300, maxDelayMs: 1000 }, warn: () => {} })
    const ledger = new Ledger()
    const watch = new VersionWatch(pool, table)
    watch.start()
    let stop = false
    let writing = Promise.resolve()
    const write = (prefix: string, keys: number): void => {
      stop = false
      writing = writeLoops(cache, tier, ledger, { lanes: 4, keys, stop: () => stop, prefix })
    }
    const halt = async (): Promise<void> => {
      stop = true
      await writing
    }

    /** Writers on `prefix` keys while the primary (`killed`) is killed with -9 and Sentinel promotes a replica; then the checks on the new primary. */
    const failover = async (killed: OwnRedis, prefix: string): Promise<number> => {
      write(prefix, 200)
      await sleep(1500)
      const before = await epochs(tier, killed.port)
      const replid = infoFields(String(await admin(killed.port).info('replication'))).get('master_replid')
      assert.ok(
        before.every((shard) => shard.rid === replid),
        'each shard recorded the primary’s replication id',
      )
      const ackedBefore = ledger.acks
      await killed.crash()
      const promotedPort = await failedOver(sentinel, MASTER, killed.port)
      await halt() // the writes on their way finish on the new primary; no more on these keys
      const acksAtPromotion = ledger.acks
      // Other keys after the failover, so that no later write hides the loss of an earlier one.
      write(`${prefix}-after`, 40)
      // The client finds the new primary through Sentinel after its reconnect backoff: on a loaded
      // machine that took more than the 2 s this test once waited. Up to 30 s for the first acks.
      for (const end = Date.now() + 30_000; ledger.acks <= acksAtPromotion && Date.now() < end;) await sleep(50)
      await sleep(1000)
      await halt()

      assert.ok(ackedBefore > 20, `writes were acknowledged before the crash (${ackedBefore})`)
      assert.ok(ledger.acks > acksAtPromotion, `writes resumed on the promoted replica through the same client (${acksAtPromotion} → ${ledger.acks})`)
      const unexpected = [...ledger.errors.keys()].filter((code) => code !== 'E_REDIS_UNAVAILABLE')
      assert.deepEqual(unexpected, [], 'writes in the gap failed only as unanswered')

      await cache.flush({ timeoutMs: 60_000 })
      const promoted = admin(promotedPort)
      const { entries, dirty } = await redisState(promoted, tier, [...ledger.keys.keys()])
      assert.equal(dirty, 0, 'nothing is left dirty on the new primary')
      assert.deepEqual(checkLedger(ledger, await storeRows(pool, table), entries), [], 'every acknowledged write is in the store')
      assert.deepEqual(await versionsDown(pool, table), [], 'no row’s version went down (audit trigger)')

      const newId = infoFields(String(await promoted.info('replication'))).get('master_replid')
      const afterFailover = await epochs(tier, promotedPort)
      afterFailover.forEach((shard, i) => {
        assert.equal(shard.rid, newId, `shard ${i} recorded the promoted replica’s replication id`)
        assert.ok(shard.te > (before[i]?.te ?? 0), `shard ${i}'s trust epoch rose (${before[i]?.te} → ${shard.te})`)
      })
      const unconfirmed = [...ledger.keys.values()].reduce((n, k) => n + k.unconfirmed.size, 0)
      console.log(`sentinel failover (${prefix}): ${ackedBefore} acknowledged before the crash, ${ledger.acks} in all, ${unconfirmed} not confirmed, errors ${JSON.stringify([...ledger.errors])}`)
      return promotedPort
    }

    try {
      const firstPromoted = await failover(primary, 'one')
      // The old primary comes back on its AOF; Sentinel makes it a replica of the new one, which is then killed in turn.
      await primary.restart()
      await replicaOf(primary, firstPromoted)
      await failover([replicaA, replicaB].find((s) => s.port === firstPromoted) as OwnRedis, 'two')
      await watch.stop()
      assert.deepEqual(watch.drops, [], 'no row’s version went down (sampled)')
    } finally {
      await halt()
      await watch.stop()
      await cache.close()
    }
  })
})

/** Resolves once `server` is a replica of the primary on `port` with its link up (Sentinel reconfigured it). */
async function replicaOf(server: OwnRedis, port: number): Promise<void> {
  const deadline = Date.now() + 60_000
  for (;;) {
    const fields = infoFields(String(await admin(server.port).info('replication')))
    if (fields.get('role') === 'slave' && fields.get('master_port') === String(port) && fields.get('master_link_status') === 'up') return
    if (Date.now() > deadline) throw new Error(`Sentinel did not make ${server.port} a replica of ${port}: ${JSON.stringify([...fields])}`)
    await sleep(200)
  }
}
