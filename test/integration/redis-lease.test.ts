/**
 * A batch whose store call outlasts the shard lease (`leaseMs`): two caches on one name, on a
 * redis-server of the test's own, flush into PostgreSQL made slow for real (a BEFORE INSERT trigger
 * that sleeps and counts every row the store is asked to write, fenced or not: it fires before the
 * conflict check). The instance flushing the batch keeps its lease while the batch is in flight, so
 * the other never claims the same keys: each key reaches the store once, at its version.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import type pg from 'pg'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { RedisTier } from '../../src/redis.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { redisFixture } from '../helpers/redis-fixture.js'
import type { OwnRedis } from '../helpers/own-redis.js'
import { uniqueName } from '../helpers/store-servers.js'

const fixture = redisFixture()
let server: OwnRedis
let pool: pg.Pool
const table = uniqueName('rlease')
const LEASE_MS = 300
/** Per row: a batch of KEYS rows takes KEYS × this, well past LEASE_MS. */
const SLEEP_S = 0.25
const KEYS = Array.from({ length: 6 }, (_, i) => `k${i}`)

before(async () => {
  ;({ server, pool } = await fixture.start())
  await new PostgresStore({ pool, table }).init()
  await pool.query(`CREATE TABLE ${table}_asked (key text, version bigint)`)
  await pool.query(
    `CREATE FUNCTION ${table}_slow() RETURNS trigger AS $$ BEGIN INSERT INTO ${table}_asked VALUES (NEW.key, NEW.version); PERFORM pg_sleep(${SLEEP_S}); RETURN NEW; END $$ LANGUAGE plpgsql`,
  )
  await pool.query(`CREATE TRIGGER ${table}_slow_tr BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_slow()`)
})

fixture.cleanup((pool) => pool.query(`DROP TABLE IF EXISTS ${table}; DROP TABLE IF EXISTS ${table}_asked; DROP FUNCTION IF EXISTS ${table}_slow() CASCADE`))

function open(): Promise<WriteBehindCache> {
  const tier = new RedisTier({ client: fixture.track(server.client()), name: 'lease', shards: 1, leaseMs: LEASE_MS })
  return WriteBehindCache.open({ store: new PostgresStore({ pool, table }), tier, flush: { intervalMs: 50, maxDelayMs: 50, concurrency: 1 } })
}

describe('a batch that outlasts the shard lease', () => {
  it('is written once: its instance keeps the lease while it is in flight, the other claims nothing', { timeout: 60_000 }, async () => {
    const a = await open()
    const b = await open()
    try {
      await Promise.all(KEYS.map((key, i) => a.set(key, i)))
      await Promise.all([a.flush({ timeoutMs: 30_000 }), b.flush({ timeoutMs: 30_000 })])
      const { rows } = await pool.query<{ key: string; version: string; writes: string }>(`SELECT key, max(version) AS version, count(*) AS writes FROM ${table}_asked GROUP BY key ORDER BY key`)
      assert.deepEqual(
        rows.map((r) => [r.key, Number(r.writes)]),
        KEYS.map((key) => [key, 1]),
        'each key was sent to the store once',
      )
      const stored = await pool.query<{ key: string; value: unknown; version: string }>(`SELECT key, value, version FROM ${table} ORDER BY key`)
      assert.deepEqual(
        stored.rows.map((r) => [r.key, r.value, r.version]),
        rows.map((r, i) => [r.key, i, r.version]),
        'every key is in the store at the version it was sent at',
      )
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })
})
