/**
 * PostgreSQL plumbing shared by every benchmarked system: connection settings from the
 * environment, a pool wrapper that counts statements and rows written, the peers' table and
 * their fenced multi-row upsert, and the read-backs the harness uses to check each run
 * (`pg_stat_user_tables` counters and the table's final state).
 */
import pg from 'pg'

/** Where the benchmark's PostgreSQL is; override with WB_PG_URL. */
export const PG_URL = process.env.WB_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** The subset of a `pg` result the benchmark reads. */
export interface QueryResultLike {
  rows: Record<string, unknown>[]
  rowCount: number | null
}

/** Statements sent and rows they reported written (`rowCount` of each write). */
export interface WriteCounters {
  statements: number
  rows: number
}

/** Opens a pool of `max` connections to the benchmark database. */
export function openPool(max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString: PG_URL, max })
  // An idle client's error (server restart) must not crash the benchmark process.
  pool.on('error', (err) => console.error(`pg pool error: ${err.message}`))
  return pool
}

/**
 * A pg Pool look-alike that forwards to a real pool and counts every statement and the rows each
 * reported written, including those run on clients checked out with `connect()` (transactions).
 */
export class CountingPool {
  readonly counters: WriteCounters = { statements: 0, rows: 0 }
  constructor(readonly pool: pg.Pool) {}

  /** Clients the pool holds (lets libraries tell a Pool from a lone Client). */
  get totalCount(): number {
    return this.pool.totalCount
  }

  async query(text: string, params?: unknown[]): Promise<QueryResultLike> {
    return this.count(await this.pool.query(text, params))
  }

  async connect(): Promise<{ query: CountingPool['query']; release: (destroy?: Error | boolean) => void }> {
    const client = await this.pool.connect()
    return {
      query: async (text, params) => this.count(await client.query(text, params)),
      release: (destroy) => client.release(destroy),
    }
  }

  async end(): Promise<void> {
    await this.pool.end()
  }

  private count(result: pg.QueryResult): QueryResultLike {
    this.counters.statements += 1
    this.counters.rows += isWrite(result.command) ? (result.rowCount ?? 0) : 0
    return result
  }
}

// SELECTs (read-through, checks) also report a rowCount; only writes count as rows written.
function isWrite(command: string): boolean {
  return command === 'INSERT' || command === 'UPDATE' || command === 'DELETE' || command === 'MERGE'
}

/**
 * A table name from a system name: `direct-16` becomes `bench_direct_16`. With `WB_BENCH_TABLE_TAG`
 * set (bench/harness.test.ts sets it to its own), the tag ends the name, so that the harness's short
 * runs and a benchmark running at the same time on the same PostgreSQL never write into each
 * other's tables.
 */
export function tableFor(systemName: string): string {
  const tag = process.env.WB_BENCH_TABLE_TAG
  return `bench_${systemName.replace(/[^a-z0-9]+/gi, '_').toLowerCase()}${tag === undefined ? '' : `_${tag.replace(/[^a-z0-9]+/gi, '_').toLowerCase()}`}`
}

/** Creates the peers' table if needed and empties it. */
export async function resetPeerTable(pool: pg.Pool, table: string): Promise<void> {
  await pool.query(
    `CREATE TABLE IF NOT EXISTS ${table} (
       key text PRIMARY KEY, value jsonb NOT NULL, version bigint NOT NULL,
       updated_at timestamptz NOT NULL DEFAULT now())`,
  )
  await pool.query(`TRUNCATE ${table}`)
}

/** One row to upsert: the driver's sequence number is the version, so the newest write wins. */
export interface Row {
  key: string
  value: string
  version: number
}

/**
 * The fenced single-row upsert the direct and write-through systems send once per write. The
 * `WHERE` keeps the newest version when two writers race on one key (the same fencing
 * writebehind's stores use), so "final state = last acknowledged value" is well defined.
 */
export function singleUpsertSql(table: string): string {
  return (
    `INSERT INTO ${table} AS t (key, value, version) VALUES ($1, $2::jsonb, $3) ` +
    'ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version, ' +
    'updated_at = now() WHERE t.version < excluded.version'
  )
}

/** Upserts many rows in one statement (arrays through `unnest`); keeps the newest row per key. */
export async function upsertRows(db: CountingPool, table: string, rows: readonly Row[]): Promise<void> {
  const newest = newestPerKey(rows)
  if (newest.length === 0) return
  await db.query(
    `INSERT INTO ${table} AS t (key, value, version) ` +
      'SELECT * FROM unnest($1::text[], $2::jsonb[], $3::bigint[]) ' +
      'ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version, ' +
      'updated_at = now() WHERE t.version < excluded.version',
    [newest.map((r) => r.key), newest.map((r) => r.value), newest.map((r) => r.version)],
  )
}

// ON CONFLICT cannot touch one row twice in a statement, so a batch keeps one row per key; and
// concurrent batches lock rows in key order, so two of them cannot deadlock.
function newestPerKey(rows: readonly Row[]): Row[] {
  const byKey = new Map<string, Row>()
  for (const row of rows) {
    const seen = byKey.get(row.key)
    if (seen === undefined || seen.version < row.version) byKey.set(row.key, row)
  }
  return [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
}

/** `n_tup_ins + n_tup_upd` of a table: rows PostgreSQL itself counted as written. */
export async function tuplesWritten(pool: pg.Pool, table: string): Promise<number> {
  const { rows } = await pool.query<{ w: string | null }>('SELECT (n_tup_ins + n_tup_upd)::text AS w FROM pg_stat_user_tables WHERE relname = $1', [table])
  return Number(rows[0]?.w ?? 0)
}

/**
 * Waits for the table's statistics to settle after the writers' connections closed (backends
 * report them within about a second of going idle, and when they exit), then returns them.
 */
export async function settledTuplesWritten(pool: pg.Pool, table: string, atLeast: number): Promise<number> {
  let last = await tuplesWritten(pool, table)
  for (let waited = 0; waited < 4000; waited += 250) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    const now = await tuplesWritten(pool, table)
    if (now >= atLeast && now === last) return now
    last = now
  }
  return last
}

/** The server's version string, such as `15.20`. */
export async function serverVersion(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ server_version: string }>('SHOW server_version')
  return rows[0]?.server_version ?? 'unknown'
}
