/** `ping()` of the SQL stores: answers while the server is up, a retryable StoreError when it is not. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import pg from 'pg'
import mysql from 'mysql2/promise'
import { StoreError } from '../../src/index.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { MySqlStore } from '../../src/stores/sql/mysql/index.js'

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

const isRetryableStoreError = (e: unknown) => e instanceof StoreError && e.retryable

describe('ping() against a server that is down', () => {
  it('PostgresStore rejects with a retryable StoreError', async () => {
    const pool = new pg.Pool({ host: '127.0.0.1', port: await closedPort(), user: 'postgres', database: 'test', connectionTimeoutMillis: 2000 })
    const store = new PostgresStore({ pool, createTable: false })
    await assert.rejects(store.ping(), isRetryableStoreError)
    await pool.end()
  })

  it('MySqlStore rejects with a retryable StoreError', async () => {
    const pool = mysql.createPool({ host: '127.0.0.1', port: await closedPort(), user: 'root', database: 'test', connectTimeout: 2000 })
    const store = new MySqlStore({ pool, createTable: false })
    await assert.rejects(store.ping(), isRetryableStoreError)
    await pool.end()
  })
})
