// SqliteStore: the conformance suite on a temp file, plus a mapped leaderboard, a composite-key
// mapping with tombstones, identifier validation, error classification, fenced counts and purges.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { StoreError } from '../../src/errors.js'
import { isRetryable } from '../../src/stores/sql/sqlite/dialect.js'
import { chunk } from '../../src/stores/sql/statements.js'
import { SqliteStore } from '../../src/stores/sql/sqlite/index.js'
import type { TableMapping } from '../../src/stores/sql/table-mapping.js'
import { deleteOp, describeStoreConformance, mergeOp, setOp } from '../../src/testing/index.js'
import { counterBoard, leaderboard as leaderboardOn } from '../helpers/leaderboard.js'

const dir = mkdtempSync(join(tmpdir(), 'wb-sqlite-'))
let files = 0
after(() => rmSync(dir, { recursive: true, force: true }))

describeStoreConformance(
  { describe, it },
  'SqliteStore',
  async () => {
    const store = new SqliteStore({ path: join(dir, `conformance-${files++}.db`) })
    return { store, cleanup: () => store.close() }
  },
  { mapped: mappedScores(leaderboardOn), mappedCounter: mappedScores(counterBoard) },
)

describeStoreConformance(
  { describe, it },
  'SqliteStore, one prepared row statement run per row',
  async () => {
    const store = new SqliteStore({ path: join(dir, `per-row-${files++}.db`), maxRowsPerStatement: 1 })
    return { store, cleanup: () => store.close() }
  },
  { mappedCounter: mappedScores(counterBoard, 1) },
)

/** The suite's leaderboard (or its counter mapping) on a scores table in a database of its own. */
function mappedScores(mapping: (name: string) => TableMapping, maxRowsPerStatement?: number) {
  return async () => {
    const db = openDb()
    db.exec('CREATE TABLE scores (player_id INTEGER PRIMARY KEY, score INTEGER NOT NULL CHECK (score >= 0), version INTEGER NOT NULL, updated_at TEXT)')
    return {
      store: new SqliteStore({ database: db, table: mapping('scores'), ...(maxRowsPerStatement === undefined ? {} : { maxRowsPerStatement }) }),
      rows: async () => db.prepare('SELECT player_id, score FROM scores ORDER BY player_id').all(),
      refused: (error: Error) => assert.match((error.cause as { code: string }).code, /^SQLITE_CONSTRAINT/),
      cleanup: async () => void db.close(),
    }
  }
}

function openDb(): Database.Database {
  const db = new Database(join(dir, `own-${files++}.db`))
  db.pragma('journal_mode = WAL')
  return db
}

const playerKey = (key: string): number[] => {
  const m = /^player:(\d+)$/.exec(key)
  if (m === null) throw new TypeError(`not a player key: ${key}`)
  return [Number(m[1])]
}

const leaderboard = (version: string | undefined) => ({
  name: 'scores',
  key: 'player_id',
  keyToColumns: playerKey,
  columnsToKey: (row: Record<string, unknown>) => `player:${String(row.player_id)}`,
  columns: { score: (value: unknown) => (value as { score: number }).score },
  version,
  updatedAt: 'updated_at',
  fromRow: (row: Record<string, unknown>) => ({ score: row.score }),
})

describe('SqliteStore on your own table', () => {
  it('maps player:<id> onto scores(player_id, score, version), fenced, deletes remove the row', async () => {
    const db = openDb()
    db.exec('CREATE TABLE scores (player_id INTEGER PRIMARY KEY, score INTEGER NOT NULL CHECK (score >= 0), version INTEGER NOT NULL, updated_at TEXT)')
    const store = new SqliteStore({ database: db, table: leaderboard('version') })
    assert.deepEqual(await store.writeBatch([setOp('player:1', 5, { score: 10 }), setOp('player:2', 6, { score: 20 })]), { fenced: 0 })
    assert.deepEqual(await store.writeBatch([setOp('player:1', 4, { score: 99 }), setOp('player:2', 7, { score: 21 })]), { fenced: 1, superseded: [{ index: 0, version: 5 }] })
    const loaded = await store.load(['player:1', 'player:2', 'player:3', 'nonsense'])
    assert.deepEqual(
      loaded,
      new Map([
        ['player:1', { version: 5, value: { score: 10 } }],
        ['player:2', { version: 7, value: { score: 21 } }],
      ]),
    )
    await store.writeBatch([deleteOp('player:1', 8), deleteOp('player:2', 3)])
    assert.deepEqual(db.prepare('SELECT player_id, score FROM scores ORDER BY player_id').all(), [{ player_id: 2, score: 21 }])
    await store.close()
    db.close()
  })

  it('fails only the op whose key or value cannot be mapped', async () => {
    const db = openDb()
    db.exec('CREATE TABLE scores (player_id INTEGER PRIMARY KEY, score INTEGER, version INTEGER, updated_at TEXT)')
    const store = new SqliteStore({ database: db, table: leaderboard('version') })
    const result = await store.writeBatch([setOp('player:1', 1, { score: 1 }), setOp('bob', 2, { score: 2 }), setOp('player:3', 3, { score: 3 })])
    assert.equal(result.failures?.length, 1)
    assert.equal(result.failures?.[0]?.index, 1)
    const error = result.failures?.[0]?.error
    assert.ok(error instanceof StoreError && error.code === 'E_STORE_MAPPING' && !error.retryable)
    assert.deepEqual(new Set((await store.load(['player:1', 'player:2', 'player:3'])).keys()), new Set(['player:1', 'player:3']))
    db.close()
  })

  it('without a version column fencing is off: the last write delivered wins (documented risk)', async () => {
    const db = openDb()
    db.exec('CREATE TABLE scores (player_id INTEGER PRIMARY KEY, score INTEGER, updated_at TEXT)')
    const store = new SqliteStore({ database: db, table: leaderboard(undefined) })
    await store.writeBatch([setOp('player:1', 2, { score: 2 })])
    await store.writeBatch([setOp('player:1', 1, { score: 1 })])
    assert.deepEqual((await store.load(['player:1'])).get('player:1'), { version: 0, value: { score: 1 } })
    db.close()
  })

  it('maps a composite key and keeps tombstones in a deleted column', async () => {
    const db = openDb()
    db.exec('CREATE TABLE game_scores (game TEXT, player INTEGER, score INTEGER, v INTEGER, gone INTEGER, PRIMARY KEY (game, player))')
    const store = new SqliteStore({
      database: db,
      table: {
        name: 'game_scores',
        key: ['game', 'player'],
        keyToColumns: (key) => {
          const [game, player] = key.split('/')
          return [game, Number(player)]
        },
        columnsToKey: (row) => `${String(row.game)}/${String(row.player)}`,
        columns: { score: (value) => value },
        version: 'v',
        deleted: 'gone',
        fromRow: (row) => row.score,
      },
    })
    await store.writeBatch([setOp('chess/1', 1, 1500), setOp('go/1', 2, 30), setOp('chess/2', 3, 1400)])
    await store.writeBatch([deleteOp('chess/1', 4)])
    await store.writeBatch([setOp('chess/1', 1, 1500)]) // a replayed older set: the tombstone fences it
    const loaded = await store.load(['chess/1', 'go/1', 'chess/2'])
    assert.deepEqual(
      loaded,
      new Map([
        ['go/1', { version: 2, value: 30 }],
        ['chess/2', { version: 3, value: 1400 }],
      ]),
    )
    assert.deepEqual(db.prepare('SELECT gone, v FROM game_scores WHERE game = ? AND player = ?').get('chess', 1), { gone: 1, v: 4 })
    db.close()
  })
})

describe('SqliteStore counters on your own table', () => {
  const counter = (extra: Partial<TableMapping> = {}): TableMapping => ({ ...counterBoard('scores'), ...extra })

  it('lists the merges it applies: all on the built-in table and with a counter column, none on a mapping without one', async () => {
    const db = openDb()
    db.exec('CREATE TABLE scores (player_id INTEGER PRIMARY KEY, score INTEGER, version INTEGER NOT NULL, updated_at TEXT)')
    assert.deepEqual(new SqliteStore({ database: db }).merges, ['sum', 'max', 'min'])
    assert.deepEqual(new SqliteStore({ database: db, table: counter() }).merges, ['sum', 'max', 'min'])
    const plain = new SqliteStore({ database: db, table: leaderboard('version') })
    assert.deepEqual(plain.merges, [])
    const result = await plain.writeBatch([setOp('player:1', 1, { score: 1 }), mergeOp('player:2', 2, 'sum', 1)])
    assert.deepEqual(
      result.failures?.map((failure) => failure.index),
      [1],
    )
    assert.ok(result.failures?.[0]?.error instanceof StoreError && !result.failures[0].error.retryable)
    db.close()
  })

  it('checks the counter mapping at the door: it needs a version column, and columns may map only the counter', () => {
    const path = join(dir, 'never.db')
    assert.throws(() => new SqliteStore({ path, table: counter({ version: undefined }) }), { name: 'TypeError', message: /^table\.version must be a version column when table\.counter is set/ })
    assert.throws(() => new SqliteStore({ path, table: counter({ counter: 'sc-ore' }) }), { name: 'TypeError', message: /^table\.counter/ })
    assert.throws(() => new SqliteStore({ path, table: counter({ columns: { name: (v) => v } }) }), {
      name: 'TypeError',
      message: /^table\.columns must be left out, or mapping only the counter column "score"/,
    })
    assert.throws(() => new SqliteStore({ path, table: { ...counter(), counter: undefined } }), { name: 'TypeError', message: /^table\.columns/ })
    new SqliteStore({ path, table: counter({ columns: { score: (v) => Math.round(v as number) } }) })
  })

  it('a counter with tombstones: a deleted key starts from the operand, a stale sum after the delete stays fenced, and sets write the number', async () => {
    const db = openDb()
    db.exec('CREATE TABLE scores (player_id INTEGER PRIMARY KEY, score INTEGER, version INTEGER NOT NULL, gone INTEGER NOT NULL DEFAULT 0, updated_at TEXT)')
    const store = new SqliteStore({ database: db, table: counter({ deleted: 'gone' }) })
    await store.check()
    assert.deepEqual(await store.writeBatch([setOp('player:1', 1, 40), mergeOp('player:1', 2, 'sum', 2), mergeOp('player:2', 3, 'max', 9)]), { fenced: 0 })
    assert.deepEqual(await store.writeBatch([deleteOp('player:1', 4)]), { fenced: 0 })
    assert.deepEqual(await store.writeBatch([mergeOp('player:1', 3, 'sum', 100)]), { fenced: 1, superseded: [{ index: 0, version: 4 }] })
    assert.equal((await store.load(['player:1'])).size, 0, 'a stale sum does not bring a deleted counter back')
    assert.deepEqual(await store.writeBatch([mergeOp('player:1', 5, 'sum', 7), mergeOp('player:2', 6, 'min', 4)]), { fenced: 0 })
    assert.deepEqual(
      await store.load(['player:1', 'player:2']),
      new Map([
        ['player:1', { version: 5, value: 7 }],
        ['player:2', { version: 6, value: 4 }],
      ]),
    )
    assert.deepEqual(db.prepare('SELECT player_id, score, gone FROM scores ORDER BY player_id').all(), [
      { player_id: 1, score: 7, gone: 0 },
      { player_id: 2, score: 4, gone: 0 },
    ])
    db.close()
  })

  it('a counter column holding NULL or text is not a number: that op fails alone', async () => {
    const db = openDb()
    db.exec('CREATE TABLE scores (player_id INTEGER PRIMARY KEY, score, version INTEGER NOT NULL, updated_at TEXT)')
    db.exec("INSERT INTO scores (player_id, score, version) VALUES (1, NULL, 1), (2, 'many', 1)")
    const store = new SqliteStore({ database: db, table: counter() })
    const result = await store.writeBatch([mergeOp('player:1', 2, 'sum', 1), mergeOp('player:2', 3, 'max', 1), mergeOp('player:3', 4, 'sum', 1)])
    assert.deepEqual(
      result.failures?.map((failure) => [failure.index, (failure.error as StoreError).code]),
      [
        [0, 'E_STORE_NOT_A_NUMBER'],
        [1, 'E_STORE_NOT_A_NUMBER'],
      ],
    )
    assert.deepEqual(db.prepare('SELECT player_id, score, version FROM scores ORDER BY player_id').all(), [
      { player_id: 1, score: null, version: 1 },
      { player_id: 2, score: 'many', version: 1 },
      { player_id: 3, score: 1, version: 4 },
    ])
    db.close()
  })
})

describe('SqliteStore options and identifiers', () => {
  it('rejects bad identifiers with a TypeError naming the option', () => {
    const path = join(dir, 'never.db')
    assert.throws(() => new SqliteStore({ path, table: 'x; DROP TABLE y' }), { name: 'TypeError', message: /^table must be/ })
    assert.throws(() => new SqliteStore({ path, table: 'a.b.c' }), { name: 'TypeError', message: /^table must be/ })
    assert.throws(() => new SqliteStore({ path, table: { ...leaderboard('version'), name: 'sc"ores' } }), { name: 'TypeError', message: /^table\.name/ })
    assert.throws(() => new SqliteStore({ path, table: { ...leaderboard('version'), columns: { 'sc ore': () => 1 } } }), { message: /^table\.columns/ })
    assert.throws(() => new SqliteStore({ path, table: { ...leaderboard('ver-sion') } }), { message: /^table\.version/ })
    assert.throws(() => new SqliteStore({ path, table: { ...leaderboard('version'), key: ['a', 'b'], keyToColumns: undefined } }), { message: /keyToColumns/ })
    assert.throws(() => new SqliteStore({ path, maxRowsPerStatement: 0 }), { name: 'TypeError', message: /maxRowsPerStatement/ })
    assert.throws(() => new SqliteStore({ path, table: leaderboard('version'), createTable: true }), { message: /createTable/ })
    assert.throws(() => new SqliteStore({}), { message: /path or database/ })
  })

  it('quotes a valid schema-qualified, mixed-case table name', async () => {
    const store = new SqliteStore({ path: join(dir, `schema-${files++}.db`), table: 'main.Cache_Entries' })
    await store.writeBatch([setOp('a', 1, 'a')])
    assert.equal((await store.load(['a'])).get('a')?.version, 1)
    await store.close()
  })
})

describe('SqliteStore errors, fenced counts and purges', () => {
  it('a constraint violation fails the batch with retryable false, atomically', async () => {
    const db = openDb()
    db.exec('CREATE TABLE scores (player_id INTEGER PRIMARY KEY, score INTEGER NOT NULL CHECK (score >= 0), version INTEGER NOT NULL, updated_at TEXT)')
    const store = new SqliteStore({ database: db, table: leaderboard('version') })
    const failed = await store.writeBatch([setOp('player:1', 1, { score: 5 }), setOp('player:2', 2, { score: -1 })]).catch((e: unknown) => e)
    assert.ok(failed instanceof StoreError, 'a StoreError')
    assert.equal(failed.retryable, false)
    assert.match((failed.cause as { code: string }).code, /^SQLITE_CONSTRAINT/)
    assert.equal((await store.load(['player:1'])).size, 0, 'nothing of the failed batch applied')
    db.close()
  })

  it('a locked database fails the batch with retryable true', async () => {
    const path = join(dir, `busy-${files++}.db`)
    const holder = new Database(path)
    holder.pragma('journal_mode = WAL')
    const mine = new Database(path)
    mine.pragma('busy_timeout = 0')
    const store = new SqliteStore({ database: mine })
    await store.init()
    holder.exec('BEGIN IMMEDIATE')
    const failed = await store.writeBatch([setOp('a', 1, 'a')]).catch((e: unknown) => e)
    holder.exec('ROLLBACK')
    assert.ok(failed instanceof StoreError && failed.retryable, 'SQLITE_BUSY is retryable')
    assert.deepEqual(await store.writeBatch([setOp('a', 1, 'a')]), { fenced: 0 })
    holder.close()
    mine.close()
  })

  it('classifies SQLite result codes', () => {
    for (const code of ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR_WRITE', 'SQLITE_FULL']) assert.equal(isRetryable({ code }), true, code)
    for (const code of ['SQLITE_CONSTRAINT_PRIMARYKEY', 'SQLITE_MISMATCH', 'SQLITE_ERROR', 'SQLITE_TOOBIG']) assert.equal(isRetryable({ code }), false, code)
    assert.equal(isRetryable(new TypeError('bad binding')), false)
    for (const code of ['SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_PERM', 'SQLITE_NOTADB']) assert.equal(isRetryable({ code }), true, code)
    assert.equal(isRetryable(Object.assign(new Error('no such table: t'), { code: 'SQLITE_ERROR' })), true)
    // A missing driver package hits every write alike, as on the other stores.
    for (const code of ['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND']) assert.equal(isRetryable({ code }), true, code)
    assert.equal(isRetryable(Object.assign(new Error('table t has no column named c'), { code: 'SQLITE_ERROR' })), true)
  })

  it('reports fenced ops in the batch result (multi-row and per-row statements)', async () => {
    for (const maxRowsPerStatement of [100, 2, 1]) {
      const store = new SqliteStore({ path: join(dir, `fenced-${files++}.db`), maxRowsPerStatement })
      assert.deepEqual(await store.writeBatch([setOp('a', 2, 'a'), setOp('b', 2, 'b'), setOp('c', 2, 'c')]), { fenced: 0 })
      const second = [setOp('a', 3, 'a3'), setOp('b', 1, 'old'), deleteOp('c', 2), setOp('d', 1, 'd')]
      assert.deepEqual(await store.writeBatch(second), { fenced: 2, superseded: [{ index: 1, version: 2 }] }, `× ${maxRowsPerStatement}`)
      await store.close()
    }
  })

  it('purges tombstones older than the given age, keeping fresh ones and live rows', async () => {
    const db = openDb()
    const store = new SqliteStore({ database: db })
    await store.writeBatch([setOp('live', 1, 'x'), deleteOp('old', 2), deleteOp('fresh', 3)])
    db.prepare(`UPDATE writebehind_entries SET updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now', '-1 hour') WHERE key = 'old'`).run()
    assert.equal(await store.purgeTombstones(60_000), 1)
    assert.deepEqual(db.prepare('SELECT key, deleted FROM writebehind_entries ORDER BY key').all(), [
      { key: 'fresh', deleted: 1 },
      { key: 'live', deleted: 0 },
    ])
    await assert.rejects(store.purgeTombstones(-1), TypeError)
    db.close()
  })
})

describe('statement chunking (shared by every dialect)', () => {
  it('splits rows by row cap, parameter cap and byte cap, never leaving a chunk empty', () => {
    const rows = Array.from({ length: 10 }, (_, i) => ({ bytes: i === 4 ? 500 : 10 }))
    const sizes = (limits: { maxRows: number; maxBytes: number }, perRow: number, maxParams: number): number[] => chunk(rows, limits, perRow, maxParams).map((part) => part.length)
    assert.deepEqual(sizes({ maxRows: 4, maxBytes: Infinity }, 4, 1000), [4, 4, 2])
    assert.deepEqual(sizes({ maxRows: 100, maxBytes: Infinity }, 4, 12), [3, 3, 3, 1])
    assert.deepEqual(sizes({ maxRows: 100, maxBytes: 100 }, 4, 1000), [4, 1, 5])
    assert.deepEqual(sizes({ maxRows: 100, maxBytes: 1 }, 4, 1000), Array<number>(10).fill(1))
  })

  it('a batch split by the byte cap still lands as one transaction', async () => {
    const store = new SqliteStore({ path: join(dir, `bytes-${files++}.db`), maxRowsPerStatement: 50, maxStatementBytes: 2000 })
    const ops = Array.from({ length: 120 }, (_, i) => setOp(`b${i}`, 1, { i, pad: 'x'.repeat(100) }))
    assert.deepEqual(await store.writeBatch(ops), { fenced: 0 })
    assert.equal((await store.load(ops.map((op) => op.key))).size, 120)
    await store.close()
  })
})

describe('SqliteStore durability settings', () => {
  it('opens a database from a path in WAL mode with synchronous=FULL (a commit survives a power loss)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wb-sqlite-sync-'))
    try {
      const store = new SqliteStore({ path: join(dir, 'a.db') })
      await store.writeBatch([{ kind: 'set', key: 'k', version: 1, encoded: '1', value: 1 }])
      const executor = (store as unknown as { executor: { db: Promise<{ pragma(s: string, o?: object): unknown }> } }).executor
      const db = await executor.db
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal')
      assert.equal(db.pragma('synchronous', { simple: true }), 2, 'FULL')
      await store.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
