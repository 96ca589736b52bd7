/**
 * A Redis tier whose store (a PostgreSQL of the test's own) is killed while writers go on, on a
 * Redis with `maxmemory 64mb` and `noeviction`: the backlog fills to its cap (`maxEntries`), and
 * writes past it follow `whenFull: 'reject'` (`BacklogFullError`); Redis's used memory, sampled,
 * stays under maxmemory; once the store is back every acknowledged write lands and nothing is left
 * dirty. Then Redis itself at maxmemory: the write script is refused (OOM), which the tier reports
 * as a full backlog, while flushing (acks with `allow-oom`) goes on.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import pg from 'pg'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { BacklogFullError } from '../../src/errors.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { infoFields } from '../../src/tier/redis/startup.js'
import { startOwnRedis, type OwnRedis } from '../helpers/own-redis.js'
import { startOwnPostgres, type OwnServer } from '../helpers/own-servers.js'
import { auditedTable, checkLedger, Ledger, RecordingTier, redisState, storeRows, versionsDown, writeLoops } from './redis-fault-harness.js'

const MAXMEMORY = 64 << 20
let redis: OwnRedis
let postgres: OwnServer
let pool: pg.Pool
let admin: Redis

before(async () => {
  ;[redis, postgres] = await Promise.all([startOwnRedis(['--maxmemory', String(MAXMEMORY), '--maxmemory-policy', 'noeviction']), startOwnPostgres()])
  pool = new pg.Pool({ connectionString: postgres.url, max: 4 })
  pool.on('error', () => {})
  admin = redis.client()
})

after(async () => {
  admin.disconnect()
  await pool.end()
  await Promise.all([redis.destroy(), postgres.destroy()])
})

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function openCache(name: string, table: string, maxEntries: number): Promise<{ cache: WriteBehindCache; tier: RecordingTier; client: Redis }> {
  const client = new Redis(redis.url).on('error', () => {})
  const tier = new RecordingTier({ client, name, shards: 4, leaseMs: 500 })
  const cache = await WriteBehindCache.open({
    store: new PostgresStore({ pool, table }),
    tier,
    flush: { intervalMs: 20, maxDelayMs: 100, batchSize: 50 },
    retry: { baseDelayMs: 50, maxDelayMs: 500 },
    backlog: { maxEntries, whenFull: 'reject' },
    warn: () => {},
  })
  return { cache, tier, client }
}

describe('a Redis tier with its store down and writers going on', () => {
  it('rejects writes past the cap with BacklogFullError, keeps Redis under maxmemory, and lands every acknowledged write once the store is back', { timeout: 120_000 }, async () => {
    await auditedTable(pool, 'outage')
    const { cache, tier, client } = await openCache('outage', 'outage', 2000)
    const ledger = new Ledger()
    let stop = false
    let peak = 0
    const sampler = setInterval(() => {
      admin.info('memory').then(
        (text) => (peak = Math.max(peak, Number(infoFields(text).get('used_memory')))),
        () => {},
      )
    }, 100)
    const writing = writeLoops(cache, tier, ledger, { lanes: 4, keys: 6000, stop: () => stop })
    try {
      await sleep(1000)
      await postgres.crash()
      const ackedBefore = ledger.acks
      await sleep(3000)
      const rejected = ledger.errors.get('E_BACKLOG_FULL') ?? 0
      const backlog = cache.stats().backlog.entries
      await postgres.start()
      await sleep(1000)
      stop = true
      await writing
      clearInterval(sampler)
      assert.ok(ackedBefore > 100, `writes were acknowledged before the outage (${ackedBefore})`)
      assert.ok(rejected > 0, `writes past the cap were rejected (backlog ${backlog})`)
      assert.deepEqual([...ledger.errors.keys()], ['E_BACKLOG_FULL'], 'every failure was a full backlog')
      assert.ok(backlog <= 2000, `the backlog held its cap (${backlog})`)
      assert.ok(peak > 0 && peak < MAXMEMORY, `Redis's used memory stayed under maxmemory (peak ${peak})`)

      await cache.flush({ timeoutMs: 60_000 })
      const { entries, dirty } = await redisState(admin, tier, [...ledger.keys.keys()])
      assert.equal(dirty, 0, 'nothing is left dirty')
      assert.deepEqual(checkLedger(ledger, await storeRows(pool, 'outage'), entries), [])
      assert.deepEqual(await versionsDown(pool, 'outage'), [])
      console.log(`store outage: ${ackedBefore} acknowledged before, ${rejected} rejected at the cap (backlog ${backlog}), ${ledger.acks} in all, Redis peak ${(peak / 2 ** 20).toFixed(1)} MiB`)
    } finally {
      stop = true
      clearInterval(sampler)
      await writing
      await cache.close()
      client.disconnect()
    }
  })

  it('reports a write Redis refuses at maxmemory (OOM) as a full backlog, and still flushes', { timeout: 60_000 }, async () => {
    const store = new PostgresStore({ pool, table: 'oom' })
    await store.init()
    const { cache, client } = await openCache('oom', 'oom', 1_000_000)
    try {
      await cache.set('before', 1)
      await admin.config('SET', 'maxmemory', '1')
      let refused: unknown
      try {
        await cache.set('refused', 2)
      } catch (error) {
        refused = error
      }
      assert.ok(refused instanceof BacklogFullError, `refused as a full backlog: ${String(refused)}`)
      await cache.flush({ timeoutMs: 30_000 })
      assert.equal((await storeRows(pool, 'oom')).get('before')?.value, 1, 'the flush acknowledged under OOM')
      assert.equal(cache.stats().backlog.entries, 0)
    } finally {
      await admin.config('SET', 'maxmemory', String(MAXMEMORY))
      await cache.close()
      client.disconnect()
    }
  })
})
