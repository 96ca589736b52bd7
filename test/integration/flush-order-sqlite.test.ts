/**
 * Cross-key order on SQLite, recorded by the database itself: triggers on the cache's table append
 * every row change (insert, or an upsert that was not fenced out) to an audit table, in commit
 * order, as an audit trail fed from the table would see them. Through a flaky connection (whole
 * batches fail at random, some after committing) `flush.order: 'global'` gives a strictly
 * increasing sequence of versions; key order with concurrency 2 does not.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { SqliteStore } from '../../src/stores/sql/sqlite/index.js'
import type { FakeClock } from '../../src/testing/fake-clock.js'
import { FlakyStore } from '../helpers/faulty-stores.js'
import { openTestCache } from '../helpers/open.js'
import { seededRandom } from '../helpers/seeded-random.js'

const dir = mkdtempSync(join(tmpdir(), 'wb-order-sqlite-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const TABLE = 'order_entries'

/** A SQLite store on a fresh file whose table feeds an audit table through triggers. */
async function auditedStore(name: string): Promise<{ store: SqliteStore; audit: () => number[]; db: Database.Database }> {
  const db = new Database(join(dir, `${name}.db`))
  db.pragma('journal_mode = WAL')
  const store = new SqliteStore({ database: db, table: TABLE })
  await store.check() // creates the table
  db.exec(`
    CREATE TABLE audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, version INTEGER NOT NULL);
    CREATE TRIGGER audit_insert AFTER INSERT ON ${TABLE} BEGIN INSERT INTO audit (key, version) VALUES (NEW.key, NEW.version); END;
    CREATE TRIGGER audit_update AFTER UPDATE ON ${TABLE} BEGIN INSERT INTO audit (key, version) VALUES (NEW.key, NEW.version); END;
  `)
  const audit = (): number[] => (db.prepare('SELECT version FROM audit ORDER BY seq').all() as Array<{ version: number }>).map((r) => Number(r.version))
  return { store, audit, db }
}

async function flushOn(cache: { flush(): Promise<unknown> }, clock: FakeClock): Promise<void> {
  let done = false
  const flushing = cache.flush().then(() => (done = true))
  for (let i = 0; i < 100_000 && !done; i++) await clock.advance(50)
  await flushing
}

function firstInversion(versions: readonly number[]): string | undefined {
  for (let i = 1; i < versions.length; i++) {
    if ((versions[i] as number) <= (versions[i - 1] as number)) return `#${i}: ${versions[i]} after ${versions[i - 1]}`
  }
  return undefined
}

/** 2000 random writes (10% deletes) over 200 keys, the clock moved at random; then a flush. Returns the final model. */
async function run(order: 'key' | 'global', name: string): Promise<{ audit: number[]; rows: Map<string, string | null>; model: Map<string, string | null> }> {
  const { store, audit, db } = await auditedStore(name)
  const flaky = new FlakyStore(store, { failRate: 0.3, random: seededRandom(21) })
  const { cache, clock } = await openTestCache(flaky, {
    flush: { order, batchSize: 16, intervalMs: 100, ...(order === 'key' ? { concurrency: 2 } : {}) },
    retry: { maxAttempts: 1000, baseDelayMs: 10, maxDelayMs: 200, circuitThreshold: 1000 },
  })
  const random = seededRandom(9)
  const model = new Map<string, string | null>()
  for (let i = 0; i < 2000; i++) {
    const key = `k${Math.floor(random() * 200)}`
    if (random() < 0.1) {
      await cache.delete(key)
      model.set(key, null)
    } else {
      await cache.set(key, i)
      model.set(key, String(i))
    }
    if (random() < 0.05) await clock.advance(Math.floor(random() * 150))
  }
  await flushOn(cache, clock)
  assert.ok(flaky.appliedThenFailed > 0, 'some batches committed, then failed, then were sent again')
  assert.equal(cache.stats().deadLetters, 0)
  const rows = new Map((db.prepare(`SELECT key, value, deleted FROM ${TABLE}`).all() as Array<{ key: string; value: string | null; deleted: number }>).map((r) => [r.key, r.deleted ? null : r.value]))
  const result = { audit: audit(), rows, model }
  await cache.close()
  db.close()
  return result
}

describe("flush.order 'global' on SQLite, recorded by triggers", () => {
  it('the audit trail sees every version strictly increasing, through failures and redeliveries', async () => {
    const { audit, rows, model } = await run('global', 'global')
    assert.deepEqual(rows, model, 'the table ends equal to the cache')
    assert.ok(audit.length > 500, `${audit.length} row changes recorded`)
    assert.equal(firstInversion(audit), undefined)
  })

  it('in key order with concurrency 2 the same trail goes backwards: the check tells them apart', async () => {
    const { audit, rows, model } = await run('key', 'key')
    assert.deepEqual(rows, model)
    assert.notEqual(firstInversion(audit), undefined)
  })
})
