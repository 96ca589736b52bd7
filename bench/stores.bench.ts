// Store micro-benchmark: `npx tsx bench/stores.bench.ts [--batches 60] [--only postgres,mysql,sqlite]`.
//
// Per dialect, store.writeBatch throughput (ops/s) for 1000- and 100-op batches, fencing included,
// beside the best raw batched upsert of the same rows written by hand with the same driver on the
// same number of connections, in one run; the table shows each figure as a ratio of the best raw
// one. Method: every variant writes the same batches (keys cycle over 5 batches' worth per worker,
// version = batch number, so the first batches insert and the rest update) into its own fresh table;
// with N connections, N workers write disjoint key ranges concurrently (as the cache never puts one
// key in two in-flight batches). Variants are interleaved batch by batch (rotating which goes first)
// and each is timed only during its own batches, so background load hits them all alike. Caveats: loopback servers with default settings on
// the same machine as the client, so figures compare paths; they are not production capacities.
import mysql from 'mysql2/promise'
import pg from 'pg'
import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { StoreOp } from '../src/contracts/store.js'
import { MySqlStore } from '../src/stores/sql/mysql/index.js'
import { PostgresStore } from '../src/stores/sql/postgres/index.js'
import { SqliteStore } from '../src/stores/sql/sqlite/index.js'

const PG_URL = process.env.WB_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const MYSQL_URL = process.env.WB_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'
const { values: args } = parseArgs({ options: { batches: { type: 'string', default: '60' }, only: { type: 'string' } } })
const BATCHES = Number(args.batches)
/** SQLite batches are so fast that it runs ten times as many per round. */
let batchScale = 1

type Write = (ops: readonly StoreOp[]) => Promise<unknown>
interface Variant {
  readonly name: string
  readonly raw: boolean
  /** Makes a fresh table and returns one writer per connection. */
  setup(connections: number): Promise<{ writers: Write[]; teardown: () => Promise<void> }>
}
interface Row {
  dialect: string
  batch: number
  connections: number
  variant: string
  raw: boolean
  opsPerSec: number
}

let tableSeq = 0
const table = (): string => `wb_bench_${process.pid}_${tableSeq++}`

function batchesFor(worker: number, size: number): StoreOp[][] {
  return Array.from({ length: BATCHES * batchScale }, (_, b) =>
    Array.from({ length: size }, (_, i) => {
      const key = `w${worker}:k${(b % 5) * size + i}`
      const value = { score: b * size + i, name: `player-${i}`, tags: ['a', 'b'] }
      return { kind: 'set', key, version: b + 1, value, encoded: JSON.stringify(value) } as const
    }),
  )
}

/**
 * Runs every variant on the same batches, interleaved batch by batch (the starting variant rotates),
 * so load from anything else on the machine falls on all of them alike. Returns ops/s per variant.
 */
async function compare(variants: Variant[], size: number, connections: number): Promise<Map<Variant, number>> {
  const setups: Awaited<ReturnType<Variant['setup']>>[] = []
  for (const variant of variants) setups.push(await variant.setup(connections))
  const work = Array.from({ length: connections }, (_, w) => batchesFor(w, size))
  const elapsed = variants.map(() => 0)
  const runBatch = async (v: number, b: number): Promise<void> => {
    await Promise.all(setups[v]!.writers.map((write, w) => write(work[w]![b]!)))
  }
  for (let v = 0; v < variants.length; v++) await runBatch(v, 0) // warm-up: creates rows, prepares statements
  for (let b = 1; b < work[0]!.length; b++) {
    for (let i = 0; i < variants.length; i++) {
      const v = (b + i) % variants.length
      const start = process.hrtime.bigint()
      await runBatch(v, b)
      elapsed[v]! += Number(process.hrtime.bigint() - start) / 1e9
    }
  }
  for (const setup of setups) await setup.teardown()
  const ops = connections * (work[0]!.length - 1) * size
  return new Map(variants.map((variant, v) => [variant, ops / elapsed[v]!]))
}

// ---- PostgreSQL -------------------------------------------------------------------------------

const PG_SET = `ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, version = EXCLUDED.version, deleted = EXCLUDED.deleted, updated_at = EXCLUDED.updated_at WHERE t.version < EXCLUDED.version`

function pgVariant(name: string, raw: boolean, make: (pool: pg.Pool, table: string) => Write): Variant {
  return {
    name,
    raw,
    async setup(connections) {
      const pool = new pg.Pool({ connectionString: PG_URL, max: connections })
      const name = table()
      await new PostgresStore({ pool, table: name }).init()
      const write = make(pool, name)
      return {
        writers: Array.from({ length: connections }, () => write),
        teardown: async () => {
          await pool.query(`DROP TABLE ${name}`)
          await pool.end()
        },
      }
    },
  }
}

const pgVariants: Variant[] = [
  pgVariant('store (unnest)', false, (pool, name) => {
    const s = new PostgresStore({ pool, table: name, batchPath: 'unnest' })
    return (ops) => s.writeBatch(ops)
  }),
  pgVariant('store (values)', false, (pool, name) => {
    const s = new PostgresStore({ pool, table: name, batchPath: 'values' })
    return (ops) => s.writeBatch(ops)
  }),
  pgVariant('raw UNNEST', true, (pool, name) => async (ops) => {
    const text = `INSERT INTO ${name} AS t (key, value, version, deleted, updated_at) SELECT k, v, n, d, now() FROM unnest($1::text[], $2::jsonb[], $3::bigint[], $4::boolean[]) AS u(k, v, n, d) ${PG_SET}`
    await pool.query(text, [ops.map((o) => o.key), ops.map((o) => (o.kind === 'set' ? o.encoded : null)), ops.map((o) => o.version), ops.map((o) => o.kind === 'delete')])
  }),
  pgVariant('raw VALUES', true, (pool, name) => async (ops) => {
    const params: unknown[] = []
    const tuples = ops.map((o) => {
      params.push(o.key, o.kind === 'set' ? o.encoded : null, o.version, o.kind === 'delete')
      const n = params.length
      return `($${n - 3}, $${n - 2}, $${n - 1}, $${n}, now())`
    })
    await pool.query(`INSERT INTO ${name} AS t (key, value, version, deleted, updated_at) VALUES ${tuples.join(', ')} ${PG_SET}`, params)
  }),
]

// ---- MySQL / MariaDB --------------------------------------------------------------------------

const MY_SET = ['value', 'deleted', 'updated_at', 'version'].map((c) => `\`${c}\` = IF(VALUES(\`version\`) > \`version\`, VALUES(\`${c}\`), \`${c}\`)`).join(', ')

function mysqlVariant(name: string, raw: boolean, make: (pool: mysql.Pool, table: string) => Write): Variant {
  return {
    name,
    raw,
    async setup(connections) {
      const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: connections })
      const name = table()
      await new MySqlStore({ pool, table: name }).init()
      const write = make(pool, name)
      return {
        writers: Array.from({ length: connections }, () => write),
        teardown: async () => {
          await pool.query(`DROP TABLE ${name}`)
          await pool.end()
        },
      }
    },
  }
}

const mysqlVariants: Variant[] = [
  mysqlVariant('store', false, (pool, name) => {
    const s = new MySqlStore({ pool, table: name })
    return (ops) => s.writeBatch(ops)
  }),
  mysqlVariant('raw multi-row ODKU', true, (pool, name) => async (ops) => {
    const params: unknown[] = []
    const tuples = ops.map((o) => {
      params.push(o.key, o.kind === 'set' ? o.encoded : null, o.version, o.kind === 'delete')
      return '(?, ?, ?, ?, NOW(6))'
    })
    await pool.query(`INSERT INTO ${name} (\`key\`, \`value\`, \`version\`, \`deleted\`, \`updated_at\`) VALUES ${tuples.join(', ')} ON DUPLICATE KEY UPDATE ${MY_SET}`, params)
  }),
]

// ---- SQLite -----------------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'wb-bench-'))

function sqliteVariant(name: string, raw: boolean, make: (db: Database.Database) => Write): Variant {
  return {
    name,
    raw,
    async setup() {
      const db = new Database(join(dir, `${table()}.db`))
      db.pragma('journal_mode = WAL')
      await new SqliteStore({ database: db }).init()
      return { writers: [make(db)], teardown: async () => void db.close() }
    },
  }
}

const sqliteVariants: Variant[] = [
  sqliteVariant('store (default: 100 rows/stmt)', false, (db) => {
    const s = new SqliteStore({ database: db })
    return (ops) => s.writeBatch(ops)
  }),
  sqliteVariant('store (1 row/stmt, run per row)', false, (db) => {
    const s = new SqliteStore({ database: db, maxRowsPerStatement: 1 })
    return (ops) => s.writeBatch(ops)
  }),
  sqliteVariant('raw prepared stmt in tx', true, (db) => {
    const stmt = db.prepare(
      `INSERT INTO writebehind_entries AS t (key, value, version, deleted, updated_at) VALUES (?, ?, ?, ?, strftime('%Y-%m-%d %H:%M:%f', 'now')) ${PG_SET.replaceAll('EXCLUDED', 'excluded')}`,
    )
    const run = db.transaction((ops: readonly StoreOp[]) => {
      for (const o of ops) stmt.run(o.key, o.kind === 'set' ? o.encoded : null, o.version, o.kind === 'delete' ? 1 : 0)
    })
    return async (ops) => run(ops)
  }),
]

// ---- run --------------------------------------------------------------------------------------

async function bench(dialect: string, variants: Variant[], connectionCounts: number[]): Promise<Row[]> {
  const rows: Row[] = []
  for (const size of [1000, 100]) {
    for (const connections of connectionCounts) {
      for (const [variant, opsPerSec] of await compare(variants, size, connections)) rows.push({ dialect, batch: size, connections, variant: variant.name, raw: variant.raw, opsPerSec })
      process.stderr.write(`${dialect} batch ${size} × ${connections} conn done\n`)
    }
  }
  return rows
}

function print(rows: Row[]): void {
  console.log('| dialect | batch | conns | variant | ops/s | vs best raw |')
  console.log('|---|---:|---:|---|---:|---:|')
  for (const row of rows) {
    const group = rows.filter((r) => r.dialect === row.dialect && r.batch === row.batch && r.connections === row.connections && r.raw)
    const bestRaw = Math.max(...group.map((r) => r.opsPerSec))
    const ratio = `${((row.opsPerSec / bestRaw) * 100).toFixed(0)}%`
    console.log(`| ${row.dialect} | ${row.batch} | ${row.connections} | ${row.variant} | ${Math.round(row.opsPerSec).toLocaleString('en-US')} | ${ratio} |`)
  }
}

const wanted = (name: string): boolean => args.only === undefined || args.only.split(',').includes(name)
const rows = [
  ...(wanted('postgres') ? await bench('PostgreSQL', pgVariants, [1, 4]) : []),
  ...(wanted('mysql') ? await bench('MariaDB', mysqlVariants, [1, 4]) : []),
  ...(wanted('sqlite') ? await (async () => ((batchScale = 10), bench('SQLite', sqliteVariants, [1])))() : []),
]
rmSync(dir, { recursive: true, force: true })
print(rows)
