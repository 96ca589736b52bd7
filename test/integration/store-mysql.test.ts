// MySqlStore on the real MariaDB (WB_MYSQL_URL): the conformance suite, plus a mapped
// leaderboard, quoting, error classification, fenced counts and tombstone purges.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import mysql from 'mysql2/promise'
import { StoreError } from '../../src/errors.js'
import { isRetryable } from '../../src/stores/sql/mysql/dialect.js'
import { MySqlStore } from '../../src/stores/sql/mysql/index.js'
import { deleteOp, describeStoreConformance, setOp } from '../../src/testing/index.js'
import { counterBoard, leaderboard, notJson } from '../helpers/leaderboard.js'
import { MYSQL_URL, mysqlPool, uniqueName } from '../helpers/store-servers.js'

let pool: mysql.Pool
before(async () => {
  pool = await mysqlPool()
})
after(async () => {
  await pool.end()
})

describeStoreConformance(
  { describe, it },
  'MySqlStore',
  async () => {
    const table = uniqueName('conf')
    const store = new MySqlStore({ pool, table, maxRowsPerStatement: 150 })
    return { store, cleanup: async () => void (await pool.query(`DROP TABLE IF EXISTS ${table}`)) }
  },
  { poison: notJson, mapped: mappedScores, mappedCounter: () => mappedScores(counterBoard) },
)

/** The suite's leaderboard (or its counter mapping) on a scores table of our own; a CHECK violation is SQLSTATE 23000. */
async function mappedScores(mapping = leaderboard) {
  const name = await scoresTable()
  return {
    store: new MySqlStore({ pool, table: mapping(name) }),
    rows: async () => (await pool.query(`SELECT player_id, score FROM ${name} ORDER BY player_id`))[0] as unknown[],
    refused: (error: Error) => {
      assert.ok(error instanceof StoreError, 'a StoreError')
      assert.equal((error.cause as { sqlState: string }).sqlState, '23000')
    },
    cleanup: async () => void (await pool.query(`DROP TABLE IF EXISTS ${name}`)),
  }
}

describeStoreConformance({ describe, it }, 'MySqlStore on a lone connection (transactions serialized)', async () => {
  const table = uniqueName('conn')
  const connection = await mysql.createConnection({ uri: MYSQL_URL })
  const store = new MySqlStore({ pool: connection, table, maxRowsPerStatement: 150 })
  return {
    store,
    cleanup: async () => {
      await connection.query(`DROP TABLE IF EXISTS ${table}`)
      await connection.end()
    },
  }
})

async function scoresTable(): Promise<string> {
  const name = uniqueName('scores')
  await pool.query(`CREATE TABLE ${name} (player_id INT PRIMARY KEY, score INT NOT NULL CHECK (score >= 0), version BIGINT NOT NULL, updated_at DATETIME(6))`)
  return name
}

describe('MySqlStore on your own table', () => {
  it('quotes a mixed-case table name and rejects a bad one with a TypeError naming the option', async () => {
    const table = `Wb_Mixed_${process.pid}`
    const store = new MySqlStore({ pool, table })
    await store.writeBatch([setOp('a', 1, { a: 1 })])
    assert.equal((await store.load(['a'])).get('a')?.version, 1)
    await pool.query(`DROP TABLE \`${table}\``)
    assert.throws(() => new MySqlStore({ pool, table: 'entries`; DROP TABLE x' }), { name: 'TypeError', message: /^table must be/ })
    assert.throws(() => new MySqlStore({ pool: null as never }), { name: 'TypeError', message: /^pool/ })
  })
})

describe('MySqlStore errors, fenced counts and purges', () => {
  it('a killed connection fails the batch with retryable true', async () => {
    const table = uniqueName('kill')
    const connection = await mysql.createConnection({ uri: MYSQL_URL })
    connection.on('error', () => undefined)
    const store = new MySqlStore({ pool: connection, table })
    await store.init()
    await pool.query(`KILL ${connection.threadId}`)
    const failed = await store.writeBatch([setOp('a', 1, 'a')]).catch((e: unknown) => e)
    assert.ok(failed instanceof StoreError, 'a StoreError')
    assert.equal(failed.retryable, true, String(failed.cause))
    connection.destroy()
    await pool.query(`DROP TABLE ${table}`)
  })

  it('classifies errnos, SQLSTATEs and network errors', () => {
    for (const errno of [1205, 1213, 1040, 2013, 1927]) assert.equal(isRetryable({ errno, sqlState: 'HY000' }), true, String(errno))
    for (const code of ['PROTOCOL_CONNECTION_LOST', 'ECONNRESET']) assert.equal(isRetryable({ code }), true, code)
    for (const [errno, sqlState] of [
      [1062, '23000'],
      [4025, '23000'],
      [1064, '42000'],
      [3140, '22032'],
      [1153, '08S01'],
    ] as const) {
      assert.equal(isRetryable({ errno, sqlState }), false, String(errno))
    }
    // Store-wide deploy mistakes agree with PostgreSQL and SQLite: retryable (see error-classes.ts).
    for (const [errno, sqlState] of [
      [1146, '42S02'],
      [1045, '28000'],
      [1044, '42000'],
      [1049, '42000'],
      [1142, '42000'],
      [1054, '42S22'],
      [1290, 'HY000'],
    ] as const) {
      assert.equal(isRetryable({ errno, sqlState }), true, String(errno))
    }
  })

  it('reports fenced ops in the batch result (one and several statements, and one-row statements)', async () => {
    for (const maxRowsPerStatement of [1000, 2, 1]) {
      const table = uniqueName('fenced')
      const store = new MySqlStore({ pool, table, maxRowsPerStatement })
      assert.deepEqual(await store.writeBatch([setOp('a', 2, 'a'), setOp('b', 2, 'b'), setOp('c', 2, 'c')]), { fenced: 0 })
      const second = [setOp('a', 3, 'a3'), setOp('b', 1, 'old'), deleteOp('c', 2), setOp('d', 1, 'd')]
      assert.deepEqual(await store.writeBatch(second), { fenced: 2, superseded: [{ index: 1, version: 2 }] }, `× ${maxRowsPerStatement}`)
      await pool.query(`DROP TABLE ${table}`)
    }
  })

  it('purges tombstones older than the given age, keeping fresh ones and live rows', async () => {
    const table = uniqueName('purge')
    const store = new MySqlStore({ pool, table })
    await store.writeBatch([setOp('live', 1, 'x'), deleteOp('old', 2), deleteOp('fresh', 3)])
    await pool.query(`UPDATE ${table} SET updated_at = NOW(6) - INTERVAL 1 HOUR WHERE \`key\` = 'old'`)
    assert.equal(await store.purgeTombstones(60_000), 1)
    const [rows] = await pool.query(`SELECT CAST(\`key\` AS CHAR) AS k, deleted FROM ${table} ORDER BY k`)
    assert.deepEqual(rows, [
      { k: 'fresh', deleted: 1 },
      { k: 'live', deleted: 0 },
    ])
    await store.writeBatch([setOp('fresh', 2, 'stale')])
    assert.equal((await store.load(['fresh'])).size, 0, 'a kept tombstone still fences')
    await pool.query(`DROP TABLE ${table}`)
  })
})
