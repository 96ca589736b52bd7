/**
 * Poison rows on a Redis tier, flushed by two processes at once: a table whose CHECK constraint
 * refuses some values (`bad: true`), 200 writes of which 20 are refused. The batches holding them
 * fail as a whole (one multi-row statement), are split, and only the refused writes are
 * dead-lettered, each once, in its shard's stream with the store's error; every other write lands
 * at its version; nothing is left dirty.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { redisFixture } from '../helpers/redis-fixture.js'
import type { OwnRedis } from '../helpers/own-redis.js'
import { PG_URL, uniqueName } from '../helpers/store-servers.js'
import { Ledger, RecordingTier, redisState, spawnApp, storeRows } from './redis-fault-harness.js'

let server: OwnRedis
let pool: pg.Pool
let admin: Redis
const table = uniqueName('rpoison')

const fixture = redisFixture()

before(async () => {
  ;({ server, pool } = await fixture.start())
  admin = fixture.track(server.client())
  await new PostgresStore({ pool, table }).init()
  await pool.query(`ALTER TABLE ${table} ADD CONSTRAINT ${table}_no_bad CHECK (value->>'bad' IS DISTINCT FROM 'true')`)
})

fixture.cleanup((pool) => pool.query(`DROP TABLE IF EXISTS ${table}`))

describe('poison rows on a Redis tier with two processes flushing', () => {
  it('dead-letters only the rows the store refuses, each once, and lands the rest', { timeout: 120_000 }, async () => {
    const name = uniqueName('poison')
    const client = server.client()
    const tier = new RecordingTier({ client, name, shards: 4, leaseMs: 500 })
    tier.flushes = false // the two processes below flush
    const cache = await WriteBehindCache.open({ store: new PostgresStore({ pool, table }), tier, warn: () => {} })
    const versions = new Map<string, number>()
    for (let i = 0; i < 200; i++) {
      await cache.set(`p${i}`, { i, bad: i % 10 === 3 })
      versions.set(`p${i}`, tier.versions.get(`p${i}`) as number)
    }
    const ledger = new Ledger()
    const base = { redisUrl: server.url, pgUrl: PG_URL, table, name, keys: 0, run: 0, flush: true, durability: 'memory' as const, seed: 1 }
    const flushers = [spawnApp({ ...base, writer: 1 }, ledger), spawnApp({ ...base, writer: 2 }, ledger)]
    try {
      const deadline = Date.now() + 60_000
      while ((await redisState(admin, tier, [])).dirty > 0) {
        assert.ok(Date.now() < deadline, 'the two processes flushed everything')
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      assert.deepEqual(ledger.crashes, [])
      const letters: Array<{ key: string; version: number; error: string }> = []
      for (let s = 0; s < tier.layout.shards; s++) {
        for (const [, fields] of await admin.xrange(tier.layout.dlq(s), '-', '+')) {
          const f = new Map<string, string>()
          for (let j = 0; j + 1 < fields.length; j += 2) f.set(fields[j] as string, fields[j + 1] as string)
          letters.push({ key: f.get('key') as string, version: Number(f.get('version')), error: f.get('error') as string })
        }
      }
      const poisoned = [...versions.keys()].filter((_, i) => i % 10 === 3)
      assert.deepEqual(letters.map((l) => l.key).sort(), poisoned.sort(), 'the refused rows, each dead-lettered once')
      for (const letter of letters) {
        assert.equal(letter.version, versions.get(letter.key), `${letter.key} at its version`)
        assert.match(letter.error, /check constraint/i)
      }
      const rows = await storeRows(pool, table)
      assert.equal(rows.size, 180, 'every other write landed')
      for (const [key, row] of rows) assert.equal(row.version, versions.get(key), `${key} at its version`)
      const dead = await tier.read(poisoned)
      assert.ok(
        dead.every((e) => e?.state === 'x'),
        'the refused entries are marked dead in Redis (still served)',
      )
    } finally {
      await Promise.all(flushers.map((f) => f.kill()))
      await cache.close()
      client.disconnect()
    }
  })
})
