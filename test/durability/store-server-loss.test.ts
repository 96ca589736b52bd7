// Losing the database in the middle of a large writeBatch, two ways: a fault-injecting TCP proxy in
// front of the shared PostgreSQL and MariaDB cuts every connection part-way through the batch's
// bytes; and our own throwaway PostgreSQL and MariaDB are SIGKILLed while the batch's transaction
// is half sent (earlier statements executed, uncommitted), then restarted through crash recovery. The batch must reject with a retryable StoreError and leave nothing half-applied
// (a batch is one transaction); once the server is back, redelivering that batch, newer ones and
// old ones again must end in exactly the "highest version wins" state.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import mysql from 'mysql2/promise'
import pg from 'pg'
import type { Store, StoreOp } from '../../src/contracts/store.js'
import { StoreError } from '../../src/errors.js'
import { MySqlStore } from '../../src/stores/sql/mysql/index.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { loadedValue, setOp } from '../../src/testing/index.js'
import { FaultProxy } from '../helpers/fault-proxy.js'
import { type OwnServer, startOwnMariaDb, startOwnPostgres } from '../helpers/own-servers.js'
import { MYSQL_URL, mysqlPool, PG_URL, pgPool, uniqueName } from '../helpers/store-servers.js'

const KEYS = 4000
const PAYLOAD = 'p'.repeat(200)

function batch(version: number, from = 0, to = KEYS): StoreOp[] {
  return Array.from({ length: to - from }, (_, i) => setOp(`k${from + i}`, version, { v: version, i: from + i, pad: PAYLOAD }))
}

function viaProxy(url: string, port: number): string {
  const u = new URL(url)
  u.hostname = '127.0.0.1'
  u.port = String(port)
  return u.toString()
}

/** Versions of every key as seen through a direct (un-proxied) store. */
async function versions(store: Store): Promise<number[]> {
  const keys = Array.from({ length: KEYS }, (_, i) => `k${i}`)
  const loaded = await store.load(keys)
  return keys.map((key) => {
    const entry = loaded.get(key)
    if (entry !== undefined) assert.equal((loadedValue(entry) as { v: number }).v, entry.version, `value of ${key} matches its version`)
    return entry?.version ?? 0
  })
}

/** How a test loses the server in the middle of a batch, and gets it back. */
interface Outage {
  /** Arms the loss; resolves once the server is gone (the batch then in flight must fail). */
  loseDuringNextBatch(): Promise<void>
  recover(): Promise<void>
}

/** The scenario, the same for every server: write v1, lose the server mid-v2, recover, replay. */
async function scenario(outage: Outage, through: Store, direct: Store): Promise<void> {
  await through.writeBatch(batch(1))
  const lost = outage.loseDuringNextBatch()
  const failed = await through.writeBatch(batch(2)).catch((e: unknown) => e)
  await lost
  assert.ok(failed instanceof StoreError, `a StoreError, got ${String(failed)}`)
  assert.equal(failed.retryable, true, 'losing the server is retryable')
  const refused = await through.writeBatch(batch(2)).catch((e: unknown) => e)
  assert.ok(refused instanceof StoreError && refused.retryable, 'a write while the server is unreachable is retryable')

  await outage.recover()
  assert.deepEqual(new Set(await versions(direct)), new Set([1]), 'nothing of the lost batch applied')
  await through.writeBatch(batch(2)) // redelivery of the failed batch
  await through.writeBatch(batch(3, 0, KEYS / 2)) // a newer batch on half the keys
  await through.writeBatch(batch(2)) // the old batch once more
  await through.writeBatch(batch(1)) // and the oldest
  const expected = Array.from({ length: KEYS }, (_, i) => (i < KEYS / 2 ? 3 : 2))
  assert.deepEqual(await versions(direct), expected)
}

/** The proxy cuts every connection ~300 KB into the ~1 MB batch. */
function proxyCut(proxy: FaultProxy): Outage {
  return { loseDuringNextBatch: () => proxy.cutAfter(300_000), recover: async () => proxy.restore() }
}

/** The proxy holds the batch ~500 KB in (mid-transaction), then the server is SIGKILLed and later restarted (crash recovery). */
function serverCrash(proxy: FaultProxy, server: OwnServer, uncommittedWriters: () => Promise<number>): Outage {
  return {
    loseDuringNextBatch: async () => {
      await proxy.holdAfter(500_000)
      assert.equal(await uncommittedWriters(), 1, 'the crash hits a transaction that has already written rows')
      await server.crash()
    },
    recover: async () => {
      await server.start()
      proxy.restore()
    },
  }
}

describe('PostgreSQL lost mid-batch', () => {
  const proxy = new FaultProxy(new URL(PG_URL).hostname, Number(new URL(PG_URL).port || 5432))
  let direct: pg.Pool
  let proxied: pg.Pool
  before(async () => {
    direct = await pgPool(2)
    proxied = new pg.Pool({ connectionString: viaProxy(PG_URL, await proxy.listen()), max: 2 })
    proxied.on('error', () => undefined) // idle clients cut by the proxy
  })
  after(async () => {
    await proxy.close()
    await proxied.end()
    await direct.end()
  })

  for (const [label, options] of [
    ['one UNNEST statement', { batchPath: 'unnest', maxRowsPerStatement: 5000 }],
    ['a transaction of 8 VALUES statements', { batchPath: 'values', maxRowsPerStatement: 500 }],
  ] as const) {
    it(`rejects retryably, applies nothing, then ends exact after redelivery (${label})`, async () => {
      const table = uniqueName('loss')
      await scenario(proxyCut(proxy), new PostgresStore({ pool: proxied, table, ...options }), new PostgresStore({ pool: direct, table }))
      await direct.query(`DROP TABLE ${table}`)
    })
  }
})

describe('MariaDB lost mid-batch', () => {
  const proxy = new FaultProxy(new URL(MYSQL_URL).hostname, Number(new URL(MYSQL_URL).port || 3306))
  let direct: mysql.Pool
  let proxied: mysql.Pool
  before(async () => {
    direct = await mysqlPool(2)
    proxied = mysql.createPool({ uri: viaProxy(MYSQL_URL, await proxy.listen()), connectionLimit: 2 })
  })
  after(async () => {
    await proxy.close()
    await proxied.end()
    await direct.end()
  })

  for (const [label, maxRowsPerStatement] of [
    ['one statement', 5000],
    ['a transaction of 8 statements', 500],
  ] as const) {
    it(`rejects retryably, applies nothing, then ends exact after redelivery (${label})`, async () => {
      const table = uniqueName('loss')
      await scenario(proxyCut(proxy), new MySqlStore({ pool: proxied, table, maxRowsPerStatement }), new MySqlStore({ pool: direct, table }))
      await direct.query(`DROP TABLE ${table}`)
    })
  }
})

describe('own PostgreSQL killed -9 mid-transaction', () => {
  let server: OwnServer
  let proxy: FaultProxy
  let direct: pg.Pool
  let proxied: pg.Pool
  before(async () => {
    server = await startOwnPostgres()
    proxy = new FaultProxy('127.0.0.1', server.port)
    direct = new pg.Pool({ connectionString: server.url, max: 2 })
    direct.on('error', () => undefined)
    proxied = new pg.Pool({ connectionString: viaProxy(server.url, await proxy.listen()), max: 2 })
    proxied.on('error', () => undefined)
  })
  after(async () => {
    await proxy.close()
    await Promise.all([proxied.end(), direct.end()])
    await server.destroy()
  })

  it('rejects retryably; after crash recovery nothing is half-applied and redelivery ends exact', async () => {
    const table = uniqueName('crash')
    const options = { batchPath: 'values', maxRowsPerStatement: 500 } as const
    const writers = async (): Promise<number> => {
      const sql = 'SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()'
      return (await direct.query<{ n: number }>(sql)).rows[0]!.n
    }
    await scenario(serverCrash(proxy, server, writers), new PostgresStore({ pool: proxied, table, ...options }), new PostgresStore({ pool: direct, table }))
  })
})

describe('own MariaDB killed -9 mid-transaction', () => {
  let server: OwnServer
  let proxy: FaultProxy
  let direct: mysql.Pool
  let proxied: mysql.Pool
  before(async () => {
    server = await startOwnMariaDb()
    proxy = new FaultProxy('127.0.0.1', server.port)
    direct = mysql.createPool({ uri: server.url, connectionLimit: 2 })
    proxied = mysql.createPool({ uri: viaProxy(server.url, await proxy.listen()), connectionLimit: 2 })
  })
  after(async () => {
    await proxy.close()
    await Promise.all([proxied.end(), direct.end()])
    await server.destroy()
  })

  it('rejects retryably; after crash recovery nothing is half-applied and redelivery ends exact', async () => {
    const table = uniqueName('crash')
    const writers = async (): Promise<number> => {
      const [rows] = await direct.query('SELECT count(*) AS n FROM information_schema.innodb_trx WHERE trx_rows_modified > 0')
      return Number((rows as { n: number }[])[0]!.n)
    }
    await scenario(serverCrash(proxy, server, writers), new MySqlStore({ pool: proxied, table, maxRowsPerStatement: 500 }), new MySqlStore({ pool: direct, table }))
  })
})
