// A pool that holds idle connections when the server drops them (backends terminated, a restart)
// must not crash the process: pg emits those as 'error' events on the Pool, which crash Node when
// nobody listens. PostgresStore listens on a pool without a listener and reports through `warn`;
// mysql2's pool already handles them. Writes land afterwards. Own servers: the shared ones are
// never touched.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import mysql from 'mysql2/promise'
import pg from 'pg'
import { WriteBehindCache } from '../../src/index.js'
import { MySqlStore } from '../../src/stores/sql/mysql/index.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { type OwnServer, startOwnMariaDb, startOwnPostgres } from '../helpers/own-servers.js'
import { uniqueName } from '../helpers/store-servers.js'

/** Polls `condition` (real I/O is involved: a server closing sockets) for up to `timeoutMs`. */
async function eventually(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Opens `connections` idle pooled connections by running that many queries at once. */
async function fillPool(query: (text: string) => Promise<unknown>, connections: number, sleep: string): Promise<void> {
  await Promise.all(Array.from({ length: connections }, () => query(sleep)))
}

/** Writes at durability `store` through a cache (so the write is in the store when it resolves), then closes. */
async function writeThrough(store: PostgresStore | MySqlStore, key: string, value: unknown): Promise<void> {
  const cache = await WriteBehindCache.open({ store, durability: 'store', warn: () => {}, retry: { baseDelayMs: 10, maxDelayMs: 50 } })
  await cache.set(key, value)
  await cache.close()
}

describe('own PostgreSQL drops the idle connections of a pool without an error listener', () => {
  let server: OwnServer
  let pool: pg.Pool
  const warnings: string[] = []
  before(async () => {
    server = await startOwnPostgres()
    pool = new pg.Pool({ connectionString: server.url, max: 3, idleTimeoutMillis: 0 })
  })
  after(async () => {
    await pool.end()
    await server.destroy()
  })

  it('terminated backends, then a restart: no crash, warnings through warn, and writes land after', async () => {
    assert.equal(pool.listenerCount('error'), 0)
    const store = new PostgresStore({ pool, table: uniqueName('idle'), warn: (code, message) => warnings.push(`${code} ${message}`) })
    assert.equal(pool.listenerCount('error'), 1)
    await writeThrough(store, 'before', 1)

    await fillPool((text) => pool.query(text), 3, 'SELECT pg_sleep(0.05)')
    assert.equal(pool.idleCount, 3)
    const admin = new pg.Client({ connectionString: server.url })
    await admin.connect()
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'")
    await admin.end()
    await eventually('the pool to report its terminated idle connections', () => warnings.length >= 3)
    assert.match(warnings[0] ?? '', /^WB_PG_POOL_ERROR .*lost an idle connection/)
    await writeThrough(store, 'after-terminate', 2)

    await fillPool((text) => pool.query(text), 3, 'SELECT pg_sleep(0.05)')
    const before = warnings.length
    await server.crash()
    await eventually('the pool to report the connections the restart dropped', () => warnings.length >= before + 3)
    await server.start()
    await writeThrough(store, 'after-restart', 3)

    const loaded = await store.load(['before', 'after-terminate', 'after-restart'])
    assert.deepEqual([...loaded.keys()].sort(), ['after-restart', 'after-terminate', 'before'])
  })

  it('leaves a pool that already has an error listener alone', () => {
    const own = new pg.Pool({ connectionString: server.url })
    own.on('error', () => undefined)
    new PostgresStore({ pool: own, table: uniqueName('own') })
    assert.equal(own.listenerCount('error'), 1)
    return own.end()
  })
})

describe('own MariaDB drops the idle connections of a mysql2 pool', () => {
  let server: OwnServer
  let pool: mysql.Pool
  before(async () => {
    server = await startOwnMariaDb()
    pool = mysql.createPool({ uri: server.url, connectionLimit: 3 })
  })
  after(async () => {
    await pool.end()
    await server.destroy()
  })

  it('killed connections, then a restart: no crash, and writes land after', async () => {
    const store = new MySqlStore({ pool, table: uniqueName('idle') })
    await writeThrough(store, 'before', 1)
    await fillPool((text) => pool.query(text), 3, 'SELECT SLEEP(0.05)')
    const admin = await mysql.createConnection({ uri: server.url })
    const [rows] = await admin.query("SELECT id FROM information_schema.processlist WHERE id <> CONNECTION_ID() AND command = 'Sleep'")
    const ids = (rows as { id: number }[]).map((row) => row.id)
    assert.ok(ids.length >= 3, `expected the pool's idle connections, got ${ids.length}`)
    for (const id of ids) await admin.query(`KILL ${id}`)
    await admin.end()
    await new Promise((resolve) => setTimeout(resolve, 200))
    await writeThrough(store, 'after-kill', 2)

    await fillPool((text) => pool.query(text), 3, 'SELECT SLEEP(0.05)')
    await server.crash()
    await new Promise((resolve) => setTimeout(resolve, 200))
    await server.start()
    await writeThrough(store, 'after-restart', 3)
    const loaded = await store.load(['before', 'after-kill', 'after-restart'])
    assert.deepEqual([...loaded.keys()].sort(), ['after-kill', 'after-restart', 'before'])
  })
})
