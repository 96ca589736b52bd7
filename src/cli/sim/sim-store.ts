/**
 * The simulator's store, opened in the child (to write) and in the parent (to check): an SQLite
 * file in the run's dir (WAL, like an app would) or a table of its own in PostgreSQL. Drivers are
 * the package's optional peers, imported only here.
 */
import type { Store } from '../../contracts/store.js'
import { PostgresStore } from '../../stores/sql/postgres/store.js'
import { SqliteStore } from '../../stores/sql/sqlite/store.js'

/** A store opened for the simulator, and how to release its connection. */
export interface OpenedStore {
  readonly store: Store
  release(): Promise<void>
}

export async function openSimStore(kind: 'sqlite' | 'postgres', db: string, pgUrl: string | undefined): Promise<OpenedStore> {
  if (kind === 'postgres') {
    const { default: pg } = await import('pg')
    const pool = new pg.Pool({ connectionString: pgUrl, max: 4 })
    return { store: new PostgresStore({ pool, table: db }), release: () => pool.end() }
  }
  const { default: Database } = await import('better-sqlite3')
  const database = new Database(db)
  database.pragma('journal_mode = WAL')
  database.pragma('busy_timeout = 5000')
  return {
    store: new SqliteStore({ database, table: SIM_SQLITE_TABLE }),
    release: async () => {
      database.close()
    },
  }
}

/** The table in the SQLite file (PostgreSQL runs name their own). */
export const SIM_SQLITE_TABLE = 'writebehind_sim'

/**
 * Reads the sequence number each key holds in the store: `seqs[i]` for key `k:i`, 0 when the key
 * has no live row. The value of every row is `{ seq, at }` (protocol.ts).
 */
export async function storedSeqs(kind: 'sqlite' | 'postgres', db: string, pgUrl: string | undefined, keys: number): Promise<Float64Array> {
  const seqs = new Float64Array(keys)
  for (const [key, seq] of await readRows(kind, db, pgUrl)) {
    const index = Number(/^k:(\d+)$/.exec(key)?.[1] ?? NaN)
    if (Number.isInteger(index) && index < keys) seqs[index] = seq
  }
  return seqs
}

async function readRows(kind: 'sqlite' | 'postgres', db: string, pgUrl: string | undefined): Promise<Array<[string, number]>> {
  if (kind === 'postgres') {
    const { default: pg } = await import('pg')
    const client = new pg.Client({ connectionString: pgUrl })
    await client.connect()
    try {
      const exists = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [db])
      if (exists.rows[0]?.t == null) return []
      const result = await client.query<{ key: string; seq: string }>(`SELECT "key", ("value"->>'seq') AS seq FROM "${db}" WHERE NOT "deleted"`)
      return result.rows.map((row) => [row.key, Number(row.seq)])
    } finally {
      await client.end()
    }
  }
  const { default: Database } = await import('better-sqlite3')
  const database = new Database(db)
  try {
    const exists = database.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(SIM_SQLITE_TABLE) !== undefined
    if (!exists) return []
    const rows = database.prepare(`SELECT "key", "value" FROM "${SIM_SQLITE_TABLE}" WHERE "deleted" = 0`).all() as Array<{ key: string; value: string }>
    return rows.map((row) => [row.key, (JSON.parse(row.value) as { seq: number }).seq])
  } finally {
    database.close()
  }
}

/** Drops a PostgreSQL run's table (the simulator's own, named `writebehind_sim_<pid>_<run>`). */
export async function dropSimTable(table: string, pgUrl: string): Promise<void> {
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString: pgUrl })
  await client.connect()
  try {
    await client.query(`DROP TABLE IF EXISTS "${table.replaceAll('"', '""')}"`)
  } finally {
    await client.end()
  }
}
