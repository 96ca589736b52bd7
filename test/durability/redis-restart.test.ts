/**
 * A Redis tier's server crashed (kill -9) under load and started again on the same dir and port,
 * with `appendonly yes` and `appendfsync always`: writes made while it is down fail with a typed
 * error (`RedisUnavailableError`, `applied: 'unknown'`) rather than hanging, writes go on once it
 * is back (the scripts are loaded again on NOSCRIPT), and every write acknowledged before the
 * crash survives it and reaches the store: nothing left dirty, Redis equal to the store, no
 * version gone down.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import type pg from 'pg'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { redisFixture } from '../helpers/redis-fixture.js'
import type { OwnRedis } from '../helpers/own-redis.js'
import { uniqueName } from '../helpers/store-servers.js'
import { auditedTable, checkLedger, dropTable, Ledger, RecordingTier, redisState, storeRows, versionsDown, writeLoops } from './redis-fault-harness.js'

let server: OwnRedis
let pool: pg.Pool
const table = uniqueName('rrestart')

const fixture = redisFixture(['--appendfsync', 'always'])

before(async () => {
  ;({ server, pool } = await fixture.start())
  await auditedTable(pool, table)
})

fixture.cleanup((pool) => dropTable(pool, table))

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

describe('Redis killed with -9 under load and restarted on its AOF', () => {
  it('keeps every write acknowledged before the crash, fails writes during the outage with a typed error, and flushes everything after', { timeout: 120_000 }, async () => {
    // ioredis gives up on a request after 3 reconnect attempts (its default, 20, takes ~10 s).
    const client = new Redis(server.url, { maxRetriesPerRequest: 3 }).on('error', () => {})
    const tier = new RecordingTier({ client, name: 'restart', shards: 4, leaseMs: 500 })
    // A slow flush: many writes acknowledged before the crash are in Redis only (its AOF keeps them).
    const cache = await WriteBehindCache.open({ store: new PostgresStore({ pool, table }), tier, flush: { intervalMs: 1000, maxDelayMs: 3000, batchSize: 16 }, warn: () => {} })
    const ledger = new Ledger()
    let stop = false
    let writing = writeLoops(cache, tier, ledger, { lanes: 4, keys: 400, stop: () => stop })
    try {
      await sleep(1500)
      await server.crash()
      const ackedBefore = ledger.acks
      await sleep(1500)
      const failedDuring = ledger.errors.get('E_REDIS_UNAVAILABLE') ?? 0
      stop = true
      await writing
      await server.restart()
      const acksAtRestart = ledger.acks
      // Other keys after the restart, so that no later write hides the loss of an earlier one.
      stop = false
      writing = writeLoops(cache, tier, ledger, { lanes: 4, keys: 40, stop: () => stop, prefix: 'after' })
      // Up to 30 s for the first acks (the client's reconnect backoff on a loaded machine), then 1 s more.
      for (const end = Date.now() + 30_000; ledger.acks <= acksAtRestart && Date.now() < end;) await sleep(50)
      await sleep(1000)
      stop = true
      await writing
      assert.ok(ackedBefore > 100, `writes were acknowledged before the crash (${ackedBefore})`)
      assert.ok(failedDuring > 0, 'writes during the outage failed (they did not hang)')
      assert.deepEqual([...ledger.errors.keys()], ['E_REDIS_UNAVAILABLE'], 'every failure was typed')
      assert.ok(ledger.acks > acksAtRestart, 'writes went on after the restart')

      await cache.flush({ timeoutMs: 30_000 })
      const admin = server.client()
      const { entries, dirty } = await redisState(admin, tier, [...ledger.keys.keys()])
      admin.disconnect()
      assert.equal(dirty, 0, 'nothing is left dirty')
      assert.deepEqual(checkLedger(ledger, await storeRows(pool, table), entries), [])
      assert.deepEqual(await versionsDown(pool, table), [])
      console.log(`redis restart: ${ackedBefore} acknowledged before the crash, ${failedDuring} failed during the outage, ${ledger.acks} in all`)
    } finally {
      stop = true
      await writing
      await cache.close()
      client.disconnect()
    }
  })
})
