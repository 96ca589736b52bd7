/**
 * Poison isolation against a real PostgreSQL: a leaderboard table whose CHECK constraint rejects
 * negative scores. A multi-row upsert fails whole on one bad row; the cache must bisect, land every
 * good row, dead-letter exactly the bad ones with the database's error, and land them on replay
 * once the constraint is fixed.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type pg from 'pg'
import { WriteBehindCache } from '../../src/index.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { pgPool, uniqueName } from '../helpers/store-servers.js'

describe('poison rows against PostgreSQL', () => {
  let pool: pg.Pool
  const table = uniqueName('scores')

  before(async () => {
    pool = await pgPool(4)
    await pool.query(
      `CREATE TABLE ${table} (player_id integer PRIMARY KEY, score integer NOT NULL CONSTRAINT score_ok CHECK (score >= 0), version bigint NOT NULL, deleted boolean NOT NULL DEFAULT false, updated_at timestamptz)`,
    )
  })

  after(async () => {
    await pool.query(`DROP TABLE IF EXISTS ${table}`)
    await pool.end()
  })

  it('lands the good rows, dead-letters the bad ones with the database error, and replays them once fixed', async () => {
    const store = new PostgresStore({
      pool,
      table: {
        name: table,
        key: 'player_id',
        version: 'version',
        deleted: 'deleted',
        updatedAt: 'updated_at',
        keyToColumns: (key) => [Number(key.slice('player:'.length))],
        columnsToKey: (row) => `player:${String(row.player_id)}`,
        columns: { score: (value) => (value as { score: number }).score },
        fromRow: (row) => ({ score: row.score }),
      },
    })
    const cache = await WriteBehindCache.open<{ score: number }>({ store, warn: () => {}, flush: { batchSize: 200 }, retry: { baseDelayMs: 5, maxDelayMs: 50 } })
    const bad = new Set<number>()
    for (let id = 1; id <= 2000; id++) {
      const score = id % 97 === 0 ? -id : id * 10
      if (score < 0) bad.add(id)
      await cache.set(`player:${id}`, { score })
    }
    const report = await cache.flush()
    assert.deepEqual(report.deadLettered.map((l) => l.key).sort(), [...bad].map((id) => `player:${id}`).sort())
    for (const letter of report.deadLettered) {
      assert.equal(letter.error.retryable, false)
      assert.match(letter.error.message, /score_ok|check constraint/i)
    }
    const count = await pool.query(`SELECT count(*)::int AS n FROM ${table}`)
    assert.equal(count.rows[0].n, 2000 - bad.size, 'every good row landed')
    assert.equal(cache.stats().circuit, 'closed', 'bad rows are not an outage')

    await pool.query(`ALTER TABLE ${table} DROP CONSTRAINT score_ok`)
    const replay = await cache.replayDeadLetters()
    assert.equal(replay.replayed, bad.size)
    const after = await pool.query(`SELECT count(*)::int AS n FROM ${table}`)
    assert.equal(after.rows[0].n, 2000)
    assert.equal(cache.deadLetters().length, 0)
    await cache.close()
  })
})
