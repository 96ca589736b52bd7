/**
 * Random kills on a Redis-tier cache: three app processes write the same 50 keys (two of them also
 * flush) and a fourth only flushes, against a redis-server of the test's own and the shared
 * PostgreSQL; a nemesis SIGKILLs a random one of them at random instants (seeded: the seed is
 * printed, `WB_SEED=<n>` replays the schedule) and starts it again. Afterwards a clean process
 * flushes, and: nothing is left dirty; each key's row holds a write that was tried, at a version
 * at least the highest acknowledged one, equal to Redis's; no row's version went down (sampled
 * while the run went on, and a trigger's record of every update).
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { RedisTier } from '../../src/redis.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { redisFixture } from '../helpers/redis-fixture.js'
import type { OwnRedis } from '../helpers/own-redis.js'
import { seededRandom } from '../helpers/seeded-random.js'
import { PG_URL, uniqueName } from '../helpers/store-servers.js'
import type { FaultChildConfig } from './redis-fault-child.js'
import { auditedTable, checkLedger, dropTable, Ledger, redisState, spawnApp, storeRows, VersionWatch, versionsDown, type AppProcess } from './redis-fault-harness.js'

const KEYS = 50
const RUN_MS = Number(process.env.WB_NEMESIS_MS ?? 20_000)

let server: OwnRedis
let pool: pg.Pool
let admin: Redis
const table = uniqueName('rkill')

const fixture = redisFixture()

before(async () => {
  ;({ server, pool } = await fixture.start())
  admin = fixture.track(server.client())
  await auditedTable(pool, table)
})

fixture.cleanup((pool) => dropTable(pool, table))

describe('app and flush processes killed with -9 at random', () => {
  it('loses no acknowledged write, never lowers a version, and ends with nothing dirty and Redis equal to the store', { timeout: 180_000 }, async () => {
    const seed = Number(process.env.WB_SEED ?? Date.now() % 1_000_000)
    console.log(`random kills: seed ${seed} (WB_SEED=${seed} replays the schedule), ${RUN_MS} ms`)
    const random = seededRandom(seed)
    const name = uniqueName('rk')
    const ledger = new Ledger()
    const base = { redisUrl: server.url, pgUrl: PG_URL, table, name, durability: 'memory' as const, run: 0 }
    const configs: FaultChildConfig[] = [
      { ...base, writer: 1, keys: KEYS, flush: true, seed: seed + 1 },
      { ...base, writer: 2, keys: KEYS, flush: true, seed: seed + 2 },
      { ...base, writer: 3, keys: KEYS, flush: false, seed: seed + 3 },
      { ...base, writer: 4, keys: 0, flush: true, seed: seed + 4 },
    ]
    const apps: AppProcess[] = configs.map((config) => spawnApp(config, ledger))
    await Promise.all(apps.map((app) => app.ready))
    const watch = new VersionWatch(pool, table)
    watch.start()
    let kills = 0
    const deadline = Date.now() + RUN_MS
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 150 + random() * 900))
      const i = Math.floor(random() * apps.length)
      const victim = apps[i] as AppProcess
      await victim.kill()
      kills++
      const config = { ...victim.config, run: victim.config.run + 1, seed: victim.config.seed + 1000 }
      apps[i] = spawnApp(config, ledger) // not awaited: the next kill may find it starting
    }
    await Promise.all(apps.map((app) => app.kill()))
    await watch.stop()
    assert.deepEqual(ledger.crashes, [], 'no app process failed on its own')
    assert.ok(ledger.acks > 500 && kills >= 8, `a real run: ${ledger.acks} acknowledged writes, ${kills} kills`)

    const client = server.client()
    const tier = new RedisTier({ client, name, shards: 4, leaseMs: 500 })
    const cache = await WriteBehindCache.open({ store: new PostgresStore({ pool, table }), tier, flush: { intervalMs: 50 } })
    try {
      await cache.flush({ timeoutMs: 60_000 })
      const keys = [...ledger.keys.keys()]
      const { entries, dirty } = await redisState(admin, tier, keys)
      assert.equal(dirty, 0, 'nothing is left dirty')
      assert.deepEqual(checkLedger(ledger, await storeRows(pool, table), entries), [])
      assert.deepEqual(watch.drops, [], `no version went down in ${watch.samples} samples`)
      assert.deepEqual(await versionsDown(pool, table), [], 'no update lowered a version')
      console.log(`random kills: ${kills} kills, ${ledger.acks} acknowledged writes over ${keys.length} keys, ${watch.samples} store samples, errors ${JSON.stringify([...ledger.errors])}`)
    } finally {
      await cache.close()
      client.disconnect()
    }
  })
})
