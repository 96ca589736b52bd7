/**
 * What the counter kill test's parent and child share: the child's config, its messages, and the
 * deterministic choice of counter for each increment (so the parent knows where an increment it
 * was not told about went).
 */
import pg from 'pg'
import type { Store } from '../../src/index.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { SqliteStore } from '../../src/stores/sql/sqlite/index.js'
import { PG_URL } from '../helpers/store-servers.js'
import { seededRandom } from '../helpers/seeded-random.js'
import { SqliteRmwStore } from './sqlite-rmw-store.js'

export type CounterDurability = 'memory' | 'log' | 'disk'

export interface CounterChildConfig {
  readonly dir: string
  /** SQLite database file; the table's name for `postgres`. */
  readonly db: string
  /** `sqlite`: SqliteStore; `rmw`: the test-only read-modify-write store (sqlite-rmw-store.ts); `postgres`: PostgresStore on the shared server. */
  readonly store: 'sqlite' | 'rmw' | 'postgres'
  readonly durability: CounterDurability
  readonly seed: number
  /** Run number within a chain (≥ 1). */
  readonly run: number
  /** Writer w adds 2^w: at most 30. */
  readonly writers: number
  readonly counters: number
  readonly flushIntervalMs: number
  readonly coalesce: boolean
}

export type CounterMessage =
  | { readonly t: 'ready' }
  /** Writer `w`'s `n`-th increment of this run was acknowledged. */
  | { readonly t: 'ack'; readonly w: number; readonly n: number }
  | { readonly t: 'error'; readonly message: string }

export function counterKey(index: number): string {
  return `counter:${index}`
}

/** Writer `w`'s counter choices in run `run`, in order: the n-th call gives its n-th increment's counter. */
export function counterPicker(seed: number, run: number, w: number, counters: number): () => number {
  const random = seededRandom(seed * 1000 + run * 100 + w)
  return () => Math.floor(random() * counters)
}

/**
 * The store the config names, on the SQLite file `path` (for `postgres`: the table `path`, and a
 * pool of its own, ended when the store closes).
 */
export function openCounterStore(kind: CounterChildConfig['store'], path: string): Store {
  if (kind === 'rmw') return new SqliteRmwStore(path)
  if (kind === 'sqlite') return new SqliteStore({ path })
  const pool = new pg.Pool({ connectionString: PG_URL, max: 2 })
  const store = new PostgresStore({ pool, table: path })
  const close = store.close.bind(store)
  store.close = async () => {
    await close()
    await pool.end()
  }
  return store
}

/** The counters as a PostgreSQL table holds them (absent or deleted: 0). */
export async function readPgCounters(table: string, keys: readonly string[]): Promise<number[]> {
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  try {
    const { rows } = await client.query<{ key: string; value: unknown; deleted: boolean }>(`SELECT key, value, deleted FROM "${table}" WHERE key = ANY($1)`, [keys])
    const byKey = new Map(rows.map((r) => [r.key, r.deleted ? 0 : Number(typeof r.value === 'string' ? JSON.parse(r.value) : r.value)]))
    return keys.map((k) => byKey.get(k) ?? 0)
  } finally {
    await client.end()
  }
}

/**
 * Copies the table `from` into a new table `to` (rows and primary key), as a crash leaves it. The
 * killed child's last transaction may still be committing in the server (its COMMIT was sent just
 * before the kill): the SHARE lock waits for every writer of the table to commit or roll back, so
 * the copy is what the crash finally left, not a state a late commit changes behind it.
 */
export async function copyPgTable(from: string, to: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  try {
    await client.query('BEGIN')
    await client.query(`LOCK TABLE "${from}" IN SHARE MODE`)
    await client.query(`CREATE TABLE "${to}" (LIKE "${from}" INCLUDING ALL)`)
    await client.query(`INSERT INTO "${to}" SELECT * FROM "${from}"`)
    await client.query('COMMIT')
  } finally {
    await client.end()
  }
}

/** Drops a counter test's PostgreSQL table. */
export async function dropPgTable(table: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  try {
    await client.query(`DROP TABLE IF EXISTS "${table}"`)
  } finally {
    await client.end()
  }
}
