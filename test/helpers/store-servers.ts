// Connections to the shared test servers for the store tests, failing loudly (which server, which
// env var) when one is unreachable, and unique table names so parallel test files never collide.
import { randomBytes } from 'node:crypto'
import mysql from 'mysql2/promise'
import pg from 'pg'

export const PG_URL = process.env.WB_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export const MYSQL_URL = process.env.WB_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'

/** A lowercase identifier unique to this process and call, such as `wb_scores_1234_ab12cd`. */
export function uniqueName(prefix: string): string {
  return `wb_${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`
}

/** A pg Pool on WB_PG_URL, checked with a query; throws a message naming the server and the env var. */
export async function pgPool(max = 4): Promise<pg.Pool> {
  const pool = new pg.Pool({ connectionString: PG_URL, max })
  try {
    await pool.query('SELECT 1')
  } catch (error) {
    await pool.end().catch(() => undefined)
    throw new Error(`PostgreSQL is unreachable at ${PG_URL} (${String(error)}). Start it, or set WB_PG_URL=postgres://user@host:port/db to use another server.`)
  }
  return pool
}

/** A mysql2 pool on WB_MYSQL_URL, checked with a query; throws a message naming the server and the env var. */
export async function mysqlPool(connectionLimit = 4): Promise<mysql.Pool> {
  const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit })
  try {
    await pool.query('SELECT 1')
  } catch (error) {
    await pool.end().catch(() => undefined)
    throw new Error(`MySQL/MariaDB is unreachable at ${MYSQL_URL} (${String(error)}). Start it, or set WB_MYSQL_URL=mysql://user:pass@host:port/db to use another server.`)
  }
  return pool
}
