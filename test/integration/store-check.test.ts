// Deploy mistakes against real servers: a least-privilege role that may read and write its table
// but not create tables, a missing table, a missing privilege, a missing database, an unknown
// user, a wrong password (own PostgreSQL with password logins) and a read-only SQLite database.
// check() names the cause, changes no row, and every such failure is retryable (store-wide) on all
// three stores, while a constraint violation stays permanent.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import mysql from 'mysql2/promise'
import pg from 'pg'
import { StoreError } from '../../src/errors.js'
import { MySqlStore } from '../../src/stores/sql/mysql/index.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { SqliteStore } from '../../src/stores/sql/sqlite/index.js'
import { loadedValue, mergeOp, setOp } from '../../src/testing/index.js'
import { startOwnPostgres } from '../helpers/own-servers.js'
import { MYSQL_URL, mysqlPool, PG_URL, pgPool, uniqueName } from '../helpers/store-servers.js'

/** Awaits `promise`, expecting a retryable, store-wide StoreError whose message matches every pattern. */
async function storeWide(promise: Promise<unknown>, ...patterns: RegExp[]): Promise<StoreError> {
  const error = await promise.then(
    () => assert.fail('expected a StoreError'),
    (e: unknown) => e,
  )
  assert.ok(error instanceof StoreError, `expected a StoreError, got ${String(error)}`)
  assert.equal(error.retryable, true, error.message)
  assert.equal(error.scope, 'store', error.message)
  for (const pattern of patterns) assert.match(error.message, pattern)
  return error
}

function withUser(url: string, user: string, password: string, database?: string): string {
  const u = new URL(url)
  u.username = user
  u.password = password
  if (database !== undefined) u.pathname = `/${database}`
  return u.toString()
}

/**
 * check(), then sum, max and min on fresh keys (insert), again (update, in two rounds), a stale one
 * (fenced, read back), all through the role under test.
 */
async function mergesApply(store: PostgresStore | MySqlStore): Promise<void> {
  await store.check()
  assert.deepEqual(await store.writeBatch([mergeOp('n', 20, 'sum', 2)]), { fenced: 0 })
  assert.deepEqual(await store.writeBatch([mergeOp('n', 21, 'sum', 1), mergeOp('n', 22, 'max', 5), mergeOp('n', 23, 'min', 9)]), { fenced: 0 })
  assert.deepEqual(await store.writeBatch([mergeOp('n', 19, 'sum', 100)]), { fenced: 1, superseded: [{ index: 0, version: 23 }] })
  const entry = (await store.load(['n'])).get('n')
  assert.ok(entry !== undefined)
  assert.deepEqual([entry.version, loadedValue(entry)], [23, 5])
}

describe('PostgreSQL deploy mistakes', () => {
  let admin: pg.Pool
  const role = uniqueName('lp')
  const schema = uniqueName('lps')
  const pools: pg.Pool[] = []
  const rolePool = (database?: string, user = role): pg.Pool => {
    const pool = new pg.Pool({ connectionString: withUser(PG_URL, user, 'pw', database), max: 2 })
    pool.on('error', () => undefined)
    pools.push(pool)
    return pool
  }

  before(async () => {
    admin = await pgPool()
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pw'`)
    // A schema the role may use but not create in: the least-privilege deployment.
    await admin.query(`CREATE SCHEMA ${schema}`)
    await admin.query(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`)
  })
  after(async () => {
    for (const pool of pools) await pool.end()
    await admin.query(`DROP SCHEMA ${schema} CASCADE`)
    await admin.query(`DROP OWNED BY ${role}`)
    await admin.query(`DROP ROLE ${role}`)
    await admin.end()
  })

  async function builtInTable(grants: string): Promise<string> {
    const table = `${schema}.${uniqueName('t')}`
    const owner = new PostgresStore({ pool: admin, table })
    await owner.writeBatch([setOp('existing', 5, 'row')])
    if (grants !== '') await admin.query(`GRANT ${grants} ON ${table} TO ${role}`)
    return table
  }

  it('a role with SELECT, INSERT, UPDATE on an existing table passes check() and writes, without CREATE', async () => {
    const table = await builtInTable('SELECT, INSERT, UPDATE')
    const store = new PostgresStore({ pool: rolePool(), table })
    await store.check()
    await store.check()
    // check() changed no row.
    assert.deepEqual((await admin.query(`SELECT key, version FROM ${table}`)).rows, [{ key: 'existing', version: '5' }])
    assert.deepEqual(await store.writeBatch([setOp('a', 7, 'a')]), { fenced: 0 })
    assert.equal(await store.highestVersion(), 7)
  })

  it('merge ops need no privilege beyond SELECT, INSERT, UPDATE: built-in table and mapped counter column', async () => {
    const table = await builtInTable('SELECT, INSERT, UPDATE')
    const store = new PostgresStore({ pool: rolePool(), table })
    await mergesApply(store)
    const scores = `${schema}.${uniqueName('counter')}`
    await admin.query(`CREATE TABLE ${scores} (id text PRIMARY KEY, score bigint NOT NULL, version bigint NOT NULL, deleted boolean NOT NULL DEFAULT false)`)
    await admin.query(`GRANT SELECT, INSERT, UPDATE ON ${scores} TO ${role}`)
    const counter = new PostgresStore({ pool: rolePool(), table: { name: scores, key: 'id', counter: 'score', version: 'version', deleted: 'deleted' } })
    await counter.check()
    await mergesApply(counter)
    assert.deepEqual((await admin.query(`SELECT id, score FROM ${scores} ORDER BY id`)).rows, [{ id: 'n', score: '5' }])
  })

  it('a mapped counter column that cannot add numbers fails check()', async () => {
    const table = `${schema}.${uniqueName('textcounter')}`
    await admin.query(`CREATE TABLE ${table} (id text PRIMARY KEY, score text, version bigint NOT NULL)`)
    await admin.query(`GRANT SELECT, INSERT, UPDATE ON ${table} TO ${role}`)
    const store = new PostgresStore({ pool: rolePool(), table: { name: table, key: 'id', counter: 'score', version: 'version' } })
    const error = await store.check().then(
      () => assert.fail('expected check() to fail'),
      (e: unknown) => e,
    )
    assert.ok(error instanceof StoreError, String(error))
    assert.match(error.message, /operator does not exist: text \+ text/)
  })

  it('a missing table that the role may not create: check() and writes fail retryable, naming the DDL', async () => {
    const table = `${schema}.${uniqueName('missing')}`
    const store = new PostgresStore({ pool: rolePool(), table })
    await storeWide(store.check(), /may not create it/, /CREATE TABLE/, /grant this role SELECT, INSERT and UPDATE/)
    await storeWide(store.writeBatch([setOp('a', 1, 'a')]), /may not create it/)
    const noCreate = new PostgresStore({ pool: rolePool(), table, createTable: false })
    await storeWide(noCreate.check(), /does not exist/, /run your migration/)
  })

  it('a role without INSERT/UPDATE: check() names the missing privilege; a read-only grant is refused too', async () => {
    const none = await builtInTable('')
    await storeWide(new PostgresStore({ pool: rolePool(), table: none }).check(), /permission denied/, /grant it SELECT, INSERT and UPDATE/)
    const readOnly = await builtInTable('SELECT')
    const store = new PostgresStore({ pool: rolePool(), table: readOnly })
    await storeWide(store.check(), /permission denied/, /lacks a privilege/)
    await storeWide(store.writeBatch([setOp('a', 9, 'a')]), /permission denied/)
    assert.deepEqual((await admin.query(`SELECT key FROM ${readOnly}`)).rows, [{ key: 'existing' }])
  })

  it('a mapped table missing a column the store writes fails check() as store-wide', async () => {
    const table = `${schema}.${uniqueName('mapped')}`
    await admin.query(`CREATE TABLE ${table} (id text PRIMARY KEY, version bigint NOT NULL)`)
    await admin.query(`GRANT SELECT, INSERT, UPDATE ON ${table} TO ${role}`)
    const store = new PostgresStore({ pool: rolePool(), table: { name: table, key: 'id', version: 'version', columns: { score: (v) => v } } })
    await storeWide(store.check(), /score/, /lacks a column/)
  })

  it('a database or a user that does not exist fails check() and writes as store-wide', async () => {
    const table = uniqueName('t')
    await storeWide(new PostgresStore({ pool: rolePool(uniqueName('nodb')), table }).check(), /does not exist/, /create it, or fix the database name/)
    const ghost = new PostgresStore({ pool: rolePool(undefined, uniqueName('ghost')), table })
    await storeWide(ghost.check(), /does not exist/, /check the user name and password/)
    await storeWide(ghost.writeBatch([setOp('a', 1, 'a')]), /Authentication failed/)
  })

  it('a read-only session (as on a hot standby) fails check() and writes as store-wide, changing nothing', async () => {
    const table = await builtInTable('')
    const readOnly = new pg.Pool({ connectionString: PG_URL, max: 1, options: '-c default_transaction_read_only=on' })
    pools.push(readOnly)
    const store = new PostgresStore({ pool: readOnly, table })
    await storeWide(store.check(), /read-only transaction/, /The database is read-only/)
    await storeWide(store.writeBatch([setOp('a', 9, 'a')]), /read-only transaction/)
    assert.deepEqual((await admin.query(`SELECT key FROM ${table}`)).rows, [{ key: 'existing' }])
  })

  it('a constraint violation stays permanent (scope op)', async () => {
    const table = uniqueName('cons')
    await admin.query(`CREATE TABLE ${table} (id text PRIMARY KEY, score int NOT NULL CHECK (score >= 0), version bigint NOT NULL)`)
    const store = new PostgresStore({ pool: admin, table: { name: table, key: 'id', version: 'version', columns: { score: (v) => v } } })
    await store.check()
    const error = await store.writeBatch([setOp('a', 1, -1)]).then(
      () => assert.fail('expected a failure'),
      (e: unknown) => e,
    )
    assert.ok(error instanceof StoreError && !error.retryable && error.scope === 'op', String(error))
    await admin.query(`DROP TABLE ${table}`)
  })
})

describe('PostgreSQL with password logins (own server)', () => {
  it('a wrong password fails check() and writes as store-wide, naming authentication', async () => {
    const server = await startOwnPostgres({ password: 'right' })
    const pool = new pg.Pool({ connectionString: withUser(server.url, 'postgres', 'wrong'), max: 1 })
    pool.on('error', () => undefined)
    try {
      const store = new PostgresStore({ pool, table: uniqueName('t') })
      await storeWide(store.check(), /password authentication failed/, /Authentication failed/)
      await storeWide(store.writeBatch([setOp('a', 1, 'a')]), /password authentication failed/)
      const good = new pg.Pool({ connectionString: server.url, max: 1 })
      await new PostgresStore({ pool: good, table: uniqueName('t') }).check()
      await good.end()
    } finally {
      await pool.end()
      await server.destroy()
    }
  })
})

describe('MariaDB deploy mistakes', () => {
  let admin: mysql.Pool
  const user = uniqueName('lp')
  const pools: mysql.Pool[] = []
  const userPool = (options: { database?: string; password?: string } = {}): mysql.Pool => {
    const pool = mysql.createPool({ uri: withUser(MYSQL_URL, user, options.password ?? 'pw', options.database), connectionLimit: 2 })
    pools.push(pool)
    return pool
  }

  before(async () => {
    admin = await mysqlPool()
    await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY 'pw'`)
    await admin.query(`CREATE USER '${user}'@'localhost' IDENTIFIED BY 'pw'`)
  })
  after(async () => {
    for (const pool of pools) await pool.end()
    await admin.query(`DROP USER '${user}'@'%'`)
    await admin.query(`DROP USER '${user}'@'localhost'`)
    await admin.end()
  })

  async function builtInTable(grants: string): Promise<string> {
    const table = uniqueName('t')
    await new MySqlStore({ pool: admin, table }).writeBatch([setOp('existing', 5, 'row')])
    if (grants !== '') {
      for (const host of ['%', 'localhost']) await admin.query(`GRANT ${grants} ON test.${table} TO '${user}'@'${host}'`)
    }
    return table
  }
  const drop = (table: string): Promise<unknown> => admin.query(`DROP TABLE IF EXISTS ${table}`)

  it('a user with SELECT, INSERT, UPDATE on an existing table passes check() and writes, without CREATE', async () => {
    const table = await builtInTable('SELECT, INSERT, UPDATE')
    const store = new MySqlStore({ pool: userPool(), table })
    await store.check()
    const [rows] = await admin.query(`SELECT CAST(\`key\` AS CHAR) AS k, version FROM ${table}`)
    assert.deepEqual(rows, [{ k: 'existing', version: 5 }])
    assert.deepEqual(await store.writeBatch([setOp('a', 7, 'a')]), { fenced: 0 })
    assert.equal(await store.highestVersion(), 7)
    await drop(table)
  })

  it('merge ops need no privilege beyond SELECT, INSERT, UPDATE: built-in table and mapped counter column', async () => {
    const table = await builtInTable('SELECT, INSERT, UPDATE')
    const store = new MySqlStore({ pool: userPool(), table })
    await mergesApply(store)
    const scores = uniqueName('counter')
    await admin.query(`CREATE TABLE ${scores} (id VARCHAR(64) PRIMARY KEY, score BIGINT NOT NULL, version BIGINT NOT NULL, deleted BOOLEAN NOT NULL DEFAULT FALSE)`)
    for (const host of ['%', 'localhost']) await admin.query(`GRANT SELECT, INSERT, UPDATE ON test.${scores} TO '${user}'@'${host}'`)
    const counter = new MySqlStore({ pool: userPool(), table: { name: scores, key: 'id', counter: 'score', version: 'version', deleted: 'deleted' } })
    await counter.check()
    await mergesApply(counter)
    const [rows] = await admin.query(`SELECT id, score FROM ${scores} ORDER BY id`)
    assert.deepEqual(rows, [{ id: 'n', score: 5 }])
    await drop(table)
    await drop(scores)
  })

  it('a missing table the user may not create, and missing privileges, fail check() retryable', async () => {
    const missing = uniqueName('missing')
    await storeWide(new MySqlStore({ pool: userPool(), table: missing }).check(), /may not create it/, /CREATE TABLE/)
    await storeWide(new MySqlStore({ pool: userPool(), table: missing }).writeBatch([setOp('a', 1, 'a')]), /may not create it/)
    const readOnly = await builtInTable('SELECT')
    const store = new MySqlStore({ pool: userPool(), table: readOnly })
    await storeWide(store.check(), /denied/, /lacks a privilege/)
    await storeWide(store.writeBatch([setOp('a', 9, 'a')]), /denied/)
    await drop(readOnly)
  })

  it('a read-only session fails check() and writes as store-wide', async () => {
    const table = await builtInTable('')
    // One read-only session per store: mysql2 may replace a connection after an error.
    const readOnlyStore = async (): Promise<{ store: MySqlStore; end: () => Promise<void> }> => {
      const connection = await mysql.createConnection({ uri: MYSQL_URL })
      await connection.query('SET SESSION TRANSACTION READ ONLY')
      return { store: new MySqlStore({ pool: connection, table }), end: () => connection.end() }
    }
    const checked = await readOnlyStore()
    await storeWide(checked.store.check(), /READ ONLY transaction/, /The database is read-only/)
    const written = await readOnlyStore()
    await storeWide(written.store.writeBatch([setOp('a', 9, 'a')]), /READ ONLY transaction/)
    await Promise.all([checked.end(), written.end()])
    const [rows] = await admin.query(`SELECT CAST(\`key\` AS CHAR) AS k FROM ${table}`)
    assert.deepEqual(rows, [{ k: 'existing' }])
    await drop(table)
  })

  it('a wrong password and a missing database fail check() as store-wide, like PostgreSQL', async () => {
    const table = uniqueName('t')
    await storeWide(new MySqlStore({ pool: userPool({ password: 'wrong' }), table }).check(), /Access denied/, /Authentication failed/)
    await storeWide(new MySqlStore({ pool: userPool({ database: uniqueName('nodb') }), table }).check(), /denied|Unknown database/)
  })
})

describe('SQLite deploy mistakes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wb-check-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('a read-only database fails check() and writes as store-wide, and changes nothing', async () => {
    const path = join(dir, 'ro.db')
    const owner = new SqliteStore({ path })
    await owner.writeBatch([setOp('existing', 5, 'row')])
    await owner.close()
    const database = new Database(path, { readonly: true })
    const store = new SqliteStore({ database })
    await storeWide(store.check(), /readonly/, /read-only/)
    await storeWide(store.writeBatch([setOp('a', 9, 'a')]), /readonly/)
    assert.equal((await store.load(['existing'])).get('existing')?.version, 5)
    database.close()
  })

  it('a database file that cannot be opened (a missing directory) fails check() and writes as store-wide', async () => {
    const store = new SqliteStore({ path: join(dir, 'no-such-dir', 'x.db') })
    await storeWide(store.check(), /cannot open the database file/, /directory does not exist/, /path and its directory exist/)
    await storeWide(store.writeBatch([setOp('a', 1, 'a')]), /cannot open the database file/)
    // Once the cause is fixed the same store works: a failed open is not remembered.
    mkdirSync(join(dir, 'no-such-dir'))
    await store.check()
    assert.deepEqual(await store.writeBatch([setOp('a', 1, 'a')]), { fenced: 0 })
    await store.close()
  })

  it('a missing mapped table fails check() and writes as store-wide; the built-in table is created', async () => {
    const database = new Database(join(dir, 'missing.db'))
    const store = new SqliteStore({ database, table: { name: 'scores', key: 'id', version: 'version', columns: { score: (v) => v } } })
    await storeWide(store.check(), /no such table/, /run your migration/)
    await storeWide(store.writeBatch([setOp('a', 1, 1)]), /no such table/)
    const builtIn = new SqliteStore({ database })
    await builtIn.check()
    assert.equal(await builtIn.highestVersion(), 0)
    database.close()
  })
})
