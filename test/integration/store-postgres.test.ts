// PostgresStore on the real server (WB_PG_URL): the conformance suite on both batch paths, plus a
// mapped leaderboard, quoting, error classification, fenced counts and tombstone purges.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { StoreError } from '../../src/errors.js'
import { isRetryable } from '../../src/stores/sql/postgres/dialect.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { deleteOp, describeStoreConformance, setOp } from '../../src/testing/index.js'
import { counterBoard, leaderboard, notJson } from '../helpers/leaderboard.js'
import { PG_URL, pgPool, uniqueName } from '../helpers/store-servers.js'

let pool: pg.Pool
before(async () => {
  pool = await pgPool()
})
after(async () => {
  await pool.end()
})

for (const batchPath of ['unnest', 'values'] as const) {
  describeStoreConformance(
    { describe, it },
    `PostgresStore (${batchPath})`,
    async () => {
      const table = uniqueName('conf')
      const store = new PostgresStore({ pool, table, batchPath, maxRowsPerStatement: 150 })
      return { store, cleanup: async () => void (await pool.query(`DROP TABLE IF EXISTS ${table}`)) }
    },
    { poison: notJson, mapped: mappedScores(batchPath), mappedCounter: mappedScores(batchPath, counterBoard) },
  )
}

/** The suite's leaderboard (or its counter mapping) on a scores table of our own; a CHECK violation is SQLSTATE 23514. */
function mappedScores(batchPath: 'unnest' | 'values', mapping = leaderboard) {
  return async () => {
    const name = await scoresTable()
    return {
      store: new PostgresStore({ pool, table: mapping(name), batchPath }),
      rows: async (): Promise<unknown[]> => (await pool.query(`SELECT player_id, score FROM ${name} ORDER BY player_id`)).rows as unknown[],
      refused: (error: Error) => {
        assert.ok(error instanceof StoreError, 'a StoreError')
        assert.equal((error.cause as { code: string }).code, '23514')
      },
      cleanup: async () => void (await pool.query(`DROP TABLE IF EXISTS ${name}`)),
    }
  }
}

describeStoreConformance({ describe, it }, 'PostgresStore on a lone Client (transactions serialized)', async () => {
  const table = uniqueName('client')
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  const store = new PostgresStore({ pool: client, table, maxRowsPerStatement: 150 })
  return {
    store,
    cleanup: async () => {
      await client.query(`DROP TABLE IF EXISTS ${table}`)
      await client.end()
    },
  }
})

async function scoresTable(): Promise<string> {
  const name = uniqueName('scores')
  await pool.query(`CREATE TABLE ${name} (player_id integer PRIMARY KEY, score integer NOT NULL CHECK (score >= 0), version bigint NOT NULL, updated_at timestamptz)`)
  return name
}

describe('PostgresStore on your own table', () => {
  it('quotes a mixed-case table name and rejects a bad one with a TypeError naming the option', async () => {
    const table = `Wb_Mixed_${process.pid}`
    const store = new PostgresStore({ pool, table })
    await store.writeBatch([setOp('a', 1, { a: 1 })])
    assert.equal((await store.load(['a'])).get('a')?.version, 1)
    await pool.query(`DROP TABLE "${table}"`)
    assert.throws(() => new PostgresStore({ pool, table: 'entries; DROP TABLE x' }), { name: 'TypeError', message: /^table must be/ })
    assert.throws(() => new PostgresStore({ pool, batchPath: 'copy' as never }), { name: 'TypeError', message: /batchPath/ })
    assert.throws(() => new PostgresStore({ pool: {} as never }), { name: 'TypeError', message: /^pool/ })
  })
})

describe('PostgresStore errors, fenced counts and purges', () => {
  it('a dropped connection fails the batch with retryable true', async () => {
    const table = uniqueName('drop')
    const client = new pg.Client({ connectionString: PG_URL })
    client.on('error', () => undefined) // the terminated connection reports here too
    await client.connect()
    const store = new PostgresStore({ pool: client, table })
    await store.init()
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
    await pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid])
    const failed = await store.writeBatch([setOp('a', 1, 'a')]).catch((e: unknown) => e)
    assert.ok(failed instanceof StoreError, 'a StoreError')
    assert.equal(failed.retryable, true)
    await client.end().catch(() => undefined)
    await pool.query(`DROP TABLE ${table}`)
  })

  it('classifies SQLSTATEs and network errors', () => {
    for (const code of ['40001', '40P01', '53300', '57P01', '08006', '55P03', 'ECONNRESET', 'ECONNREFUSED']) assert.equal(isRetryable({ code }), true, code)
    for (const code of ['23505', '23514', '22P02', '42601']) assert.equal(isRetryable({ code }), false, code)
    // Store-wide deploy mistakes (missing table, auth, database, privilege, read-only) are retryable: see error-classes.ts.
    for (const code of ['42P01', '28P01', '28000', '3D000', '42501', '25006', '42703']) assert.equal(isRetryable({ code }), true, code)
    assert.equal(isRetryable(new Error('Connection terminated unexpectedly')), true)
  })

  it('reports fenced ops in the batch result (both paths, one and several statements)', async () => {
    for (const [batchPath, maxRowsPerStatement] of [
      ['unnest', 1000],
      ['values', 1000],
      ['unnest', 2],
      ['values', 2],
    ] as const) {
      const table = uniqueName('fenced')
      const store = new PostgresStore({ pool, table, batchPath, maxRowsPerStatement })
      assert.deepEqual(await store.writeBatch([setOp('a', 2, 'a'), setOp('b', 2, 'b'), setOp('c', 2, 'c')]), { fenced: 0 })
      const second = [setOp('a', 3, 'a3'), setOp('b', 1, 'old'), deleteOp('c', 2), setOp('d', 1, 'd')]
      assert.deepEqual(await store.writeBatch(second), { fenced: 2, superseded: [{ index: 1, version: 2 }] }, `${batchPath} × ${maxRowsPerStatement}`)
      await pool.query(`DROP TABLE ${table}`)
    }
  })

  it('keeps keys and values that look like array-literal syntax verbatim on both paths (quotes, backslashes, braces, commas, NULL)', async () => {
    const printable = ['NULL', 'null', '"quoted"', 'back\\slash', '\\"both', 'a,b', '{braced}', '}{', ' lead and trail ', "it's", 'ünï"cödé"', '\\\\']
    // A batch with control characters (escaped differently by JSON) builds its arrays element by element; one without, in one pass.
    for (const [batchPath, keys] of [
      ['unnest', printable],
      ['unnest', [...printable, 'tab\there', 'line\nbreak']],
      ['values', [...printable, 'tab\there', 'line\nbreak']],
    ] as const) {
      const table = uniqueName('literal')
      const store = new PostgresStore({ pool, table, batchPath })
      const ops = keys.map((key, i) => (i === 1 ? deleteOp(key, 5) : setOp(key, i + 1, { text: `${key} \\" } { , NULL`, n: i })))
      assert.deepEqual(await store.writeBatch(ops), { fenced: 0 })
      const loaded = await store.load(keys)
      assert.equal(loaded.size, keys.length - 1, `${batchPath}: every key but the tombstone`)
      keys.forEach((key, i) => {
        if (i === 1) return assert.equal(loaded.has(key), false)
        assert.deepEqual(JSON.parse(loaded.get(key)?.encoded ?? 'null'), { text: `${key} \\" } { , NULL`, n: i }, `${batchPath}: ${JSON.stringify(key)}`)
        assert.equal(loaded.get(key)?.version, i + 1)
      })
      const { rows } = await pool.query<{ key: string; deleted: boolean; value: unknown }>(`SELECT key, deleted, value FROM ${table} WHERE key = 'null'`)
      assert.deepEqual(rows, [{ key: 'null', deleted: true, value: null }], 'the tombstone is a row with a NULL value')
      await pool.query(`DROP TABLE ${table}`)
    }
  })

  it('superseded costs no round trip when nothing was fenced, one SELECT when something was; unversioned tables report none', async () => {
    const table = uniqueName('roundtrips')
    const texts: string[] = []
    const counting = { query: (text: string, values?: unknown[]) => (texts.push(text), pool.query(text, values)) }
    const store = new PostgresStore({ pool: counting, table })
    await store.writeBatch([setOp('a', 5, 'a')])
    texts.length = 0
    assert.deepEqual(await store.writeBatch([setOp('a', 6, 'a6'), setOp('b', 1, 'b')]), { fenced: 0 })
    assert.equal(texts.length, 1, texts.join('\n'))
    texts.length = 0
    assert.deepEqual(await store.writeBatch([setOp('a', 6, 'a6'), setOp('b', 1, 'b')]), { fenced: 2 })
    assert.equal(texts.length, 2, texts.join('\n'))
    assert.deepEqual(await store.writeBatch([setOp('a', 2, 'old')]), { fenced: 1, superseded: [{ index: 0, version: 6 }] })
    await pool.query(`DROP TABLE ${table}`)

    const plain = uniqueName('plain')
    await pool.query(`CREATE TABLE ${plain} (id text PRIMARY KEY, v int)`)
    const unversioned = new PostgresStore({ pool, table: { name: plain, key: 'id', columns: { v: (value) => value } } })
    await unversioned.writeBatch([setOp('a', 5, 1)])
    assert.deepEqual(await unversioned.writeBatch([setOp('a', 2, 2)]), { fenced: 0 })
    assert.equal(await unversioned.highestVersion(), 0)
    assert.equal(await unversioned.versions(['a']), undefined, 'a table without versions cannot tell them')
    await pool.query(`DROP TABLE ${plain}`)
  })

  it('versions(): the version of live rows and tombstones, absent keys left out (what load() cannot tell)', async () => {
    const table = uniqueName('vers')
    const store = new PostgresStore({ pool, table })
    await store.writeBatch([setOp('live', 4, 'x'), deleteOp('gone', 7)])
    assert.deepEqual(
      await store.versions(['live', 'gone', 'never']),
      new Map([
        ['live', 4],
        ['gone', 7],
      ]),
    )
    assert.deepEqual([...(await store.load(['live', 'gone', 'never'])).keys()], ['live'])
    await pool.query(`DROP TABLE ${table}`)
  })

  it('purges tombstones older than the given age, keeping fresh ones and live rows', async () => {
    const table = uniqueName('purge')
    const store = new PostgresStore({ pool, table })
    await store.writeBatch([setOp('live', 1, 'x'), deleteOp('old', 2), deleteOp('fresh', 3)])
    await pool.query(`UPDATE ${table} SET updated_at = now() - interval '1 hour' WHERE key = 'old'`)
    assert.equal(await store.purgeTombstones(60_000), 1)
    const { rows } = await pool.query(`SELECT key, deleted FROM ${table} ORDER BY key`)
    assert.deepEqual(rows, [
      { key: 'fresh', deleted: true },
      { key: 'live', deleted: false },
    ])
    await store.writeBatch([setOp('fresh', 2, 'stale')])
    assert.equal((await store.load(['fresh'])).size, 0, 'a kept tombstone still fences')
    await pool.query(`DROP TABLE ${table}`)
  })
})
