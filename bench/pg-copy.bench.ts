// COPY vs UNNEST for the PostgreSQL store's batch path (issue 4):
// `npx tsx bench/pg-copy.bench.ts [--rounds 7] [--batches 40] [--small-batches 150]`.
//
// Variants, each on its own table of the built-in layout, writing the same batches:
//   unnest       `new PostgresStore({ pool }).writeBatch(ops)`: the store's default path, one fenced
//                `INSERT ... SELECT FROM unnest($1..$4) ON CONFLICT ... WHERE t.version < EXCLUDED.version`
//                (one statement, so one implicit transaction, one round trip).
//   copy-delete  a temp table created once per connection `ON COMMIT DELETE ROWS`; per batch:
//                `BEGIN` / `COPY tmp FROM STDIN` / `INSERT INTO t SELECT ... FROM tmp ON CONFLICT ...; COMMIT`.
//   copy-drop    per batch: `BEGIN; CREATE TEMP TABLE tmp ... ON COMMIT DROP` / `COPY` / `INSERT ...; COMMIT`.
// Both COPY variants collapse duplicate keys to their highest version first (as the store does;
// `ON CONFLICT` refuses to touch one row twice) and fence exactly as the store does. Each COPY batch
// is three round trips (the INSERT and its COMMIT share one simple query).
//
// Method: batches of 1000 and of 100 rows (key text, value {"score":n,"name":"player n"}, version
// bigint) on ONE connection and on FOUR (four workers writing disjoint key ranges concurrently on a
// pool of 4, one pool per variant). Every batch also carries 1% stale duplicates of its own keys
// (lower version, different value: collapsing must drop them) and 5% rows at version 1 (fenced once
// the key exists). Keys cycle over 5 batches' worth per worker: 5 untimed warm-up batches insert
// them, then every timed batch updates. Variants run interleaved batch by batch, the first one
// rotating, each timed only during its own batches; a round is `--batches` (1000 rows) or
// `--small-batches` (100 rows) such steps and gives one
// rows/s per variant; figures are medians over the rounds, and COPY/UNNEST is the median of the
// per-round ratios. At the end of each case the tables must hold the same rows (count, and md5 of
// key:version and of key:version:value) as a plain-JS model of the fenced upserts, and the variants
// must report the same fenced count, or the run fails.
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { finished } from 'node:stream/promises'
import { createHash } from 'node:crypto'
import os from 'node:os'
import { parseArgs } from 'node:util'
import type { StoreOp } from '../src/contracts/store.js'
import { PostgresStore } from '../src/stores/sql/postgres/index.js'
import { median } from './lib/stats.js'

const PG_URL = process.env.WB_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    batches: { type: 'string', default: '40' },
    'small-batches': { type: 'string', default: '150' },
  },
})
const ROUNDS = Number(args.rounds)
const STEPS: Record<number, number> = { 1000: Number(args.batches), 100: Number(args['small-batches']) }
const WARMUP = 5
const TMP = 'wb_copybench_tmp'
const SET =
  'ON CONFLICT ("key") DO UPDATE SET "value" = EXCLUDED."value", "version" = EXCLUDED."version", ' +
  '"deleted" = EXCLUDED."deleted", "updated_at" = EXCLUDED."updated_at" WHERE "wb_t"."version" < EXCLUDED."version"'

type Write = (ops: readonly StoreOp[]) => Promise<number>
interface Variant {
  readonly name: string
  /** One writer for the pool; returns how many rows were fenced. */
  make(pool: pg.Pool, table: string): Write
}

// ---- batches ------------------------------------------------------------------------------------

function batch(worker: number, step: number, size: number): StoreOp[] {
  const ops: StoreOp[] = []
  const version = 2 * (step + 1)
  for (let i = 0; i < size; i++) {
    const key = `w${worker}:k${(step % 5) * size + i}`
    const n = step * size + i
    const value = { score: n, name: `player ${n}` }
    ops.push({ kind: 'set', key, version: i % 20 === 7 ? 1 : version, value, encoded: JSON.stringify(value) })
    if (i % 100 === 3) {
      const stale = { score: -n, name: `stale ${n}` }
      ops.push({ kind: 'set', key, version: version - 1, value: stale, encoded: JSON.stringify(stale) })
    }
  }
  return ops
}

/** The highest-version op of each key (the last one on a tie), as the store's core collapses a batch. */
function latestPerKey(ops: readonly StoreOp[]): StoreOp[] {
  const latest = new Map<string, StoreOp>()
  for (const op of ops) {
    const held = latest.get(op.key)
    if (held === undefined || held.version <= op.version) latest.set(op.key, op)
  }
  return latest.size === ops.length ? [...ops] : [...latest.values()]
}

// ---- variants -----------------------------------------------------------------------------------

const unnest: Variant = {
  name: 'unnest (store)',
  make(pool, table) {
    const store = new PostgresStore({ pool, table, createTable: false })
    return async (ops) => (await store.writeBatch(ops)).fenced ?? 0
  },
}

/** COPY's text format: tab-separated, `\N` for NULL, backslash escapes. */
function copyField(text: string): string {
  return /[\\\t\n\r]/.test(text) ? text.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!) : text
}

function copyText(rows: readonly StoreOp[]): string {
  let out = ''
  for (const op of rows) {
    const value = op.kind === 'set' ? copyField(op.encoded) : '\\N'
    out += `${copyField(op.key)}\t${value}\t${op.version}\t${op.kind === 'delete' ? 't' : 'f'}\n`
  }
  return out
}

const TMP_COLUMNS = '(k text, v jsonb, n bigint, d boolean)'

function copyVariant(name: string, onCommit: 'DELETE ROWS' | 'DROP'): Variant {
  return {
    name,
    make(pool, table) {
      const prepared = new WeakSet<pg.PoolClient>()
      const insert = `INSERT INTO "${table}" AS "wb_t" ("key", "value", "version", "deleted", "updated_at") SELECT k, v, n, d, now() FROM ${TMP} ${SET}; COMMIT`
      const begin = onCommit === 'DROP' ? `BEGIN; CREATE TEMP TABLE ${TMP} ${TMP_COLUMNS} ON COMMIT DROP` : 'BEGIN'
      return async (ops) => {
        const rows = latestPerKey(ops)
        const client = await pool.connect()
        try {
          if (onCommit === 'DELETE ROWS' && !prepared.has(client)) {
            await client.query(`CREATE TEMP TABLE IF NOT EXISTS ${TMP} ${TMP_COLUMNS} ON COMMIT DELETE ROWS`)
            prepared.add(client)
          }
          await client.query(begin)
          try {
            const copy = client.query(copyFrom(`COPY ${TMP} (k, v, n, d) FROM STDIN`))
            copy.end(copyText(rows))
            await finished(copy)
            if (copy.rowCount !== rows.length) throw new Error(`COPY wrote ${copy.rowCount} rows, not ${rows.length}`)
            const results = (await client.query(insert)) as unknown as pg.QueryResult[]
            client.release()
            return rows.length - (results[0]?.rowCount ?? 0)
          } catch (error) {
            await client.query('ROLLBACK').catch(() => undefined)
            throw error
          }
        } catch (error) {
          // The connection may be mid-transaction or broken: drop it rather than pool it.
          client.release(error instanceof Error ? error : true)
          throw error
        }
      }
    },
  }
}

const variants: Variant[] = [unnest, copyVariant('copy, ON COMMIT DELETE ROWS', 'DELETE ROWS'), copyVariant('copy, ON COMMIT DROP', 'DROP')]

// ---- one case -----------------------------------------------------------------------------------

interface CaseResult {
  size: number
  connections: number
  /** rows/s per variant per round. */
  perRound: number[][]
}

let tableSeq = 0

async function runCase(size: number, connections: number): Promise<CaseResult> {
  const setups = await Promise.all(
    variants.map(async (variant) => {
      const pool = new pg.Pool({ connectionString: PG_URL, max: connections })
      const table = `wb_copybench_${process.pid}_${tableSeq++}`
      await new PostgresStore({ pool, table }).init()
      return { pool, table, write: variant.make(pool, table), fenced: 0 }
    }),
  )
  const model = new Map<string, number>()
  const step = async (v: number, s: number): Promise<void> => {
    const setup = setups[v]!
    const fenced = await Promise.all(Array.from({ length: connections }, (_, w) => setup.write(batch(w, s, size))))
    setup.fenced += fenced.reduce((a, b) => a + b, 0)
  }
  const applyModel = (s: number): void => {
    for (let w = 0; w < connections; w++) {
      for (const op of latestPerKey(batch(w, s, size))) {
        const held = model.get(op.key)
        if (held === undefined || held < op.version) model.set(op.key, op.version)
      }
    }
  }
  try {
    let s = 0
    for (; s < WARMUP; s++) {
      for (let v = 0; v < variants.length; v++) await step(v, s)
      applyModel(s)
    }
    const perRound: number[][] = variants.map(() => [])
    const rows = connections * size * STEPS[size]!
    for (let round = 0; round < ROUNDS; round++) {
      const elapsed = variants.map(() => 0)
      for (let i = 0; i < STEPS[size]!; i++, s++) {
        for (let j = 0; j < variants.length; j++) {
          const v = (s + j) % variants.length
          const start = process.hrtime.bigint()
          await step(v, s)
          elapsed[v]! += Number(process.hrtime.bigint() - start) / 1e9
        }
        applyModel(s)
      }
      variants.forEach((_, v) => perRound[v]!.push(rows / elapsed[v]!))
    }
    await verify(setups, model, size, connections)
    return { size, connections, perRound }
  } finally {
    for (const setup of setups) {
      await setup.pool.query(`DROP TABLE IF EXISTS "${setup.table}"`).catch(() => undefined)
      await setup.pool.end()
    }
  }
}

/** Every table must match the model (count, key:version checksum) and each other (values too). */
async function verify(setups: { pool: pg.Pool; table: string; fenced: number }[], model: Map<string, number>, size: number, connections: number): Promise<void> {
  const keys = [...model.keys()].sort()
  const expected = createHash('md5')
    .update(keys.map((k) => `${k}:${model.get(k)}`).join(','))
    .digest('hex')
  const states = await Promise.all(
    setups.map(async ({ pool, table }) => {
      const { rows } = await pool.query<{ count: string; kv: string; kvv: string }>(
        `SELECT count(*) AS count, md5(string_agg("key" || ':' || "version", ',' ORDER BY "key" COLLATE "C")) AS kv, ` +
          `md5(string_agg("key" || ':' || "version" || ':' || "value"::text, ',' ORDER BY "key" COLLATE "C")) AS kvv FROM "${table}"`,
      )
      return rows[0]!
    }),
  )
  const where = `batch ${size} × ${connections} conn`
  states.forEach((state, v) => {
    const name = variants[v]!.name
    if (Number(state.count) !== model.size) throw new Error(`${where}: ${name} left ${state.count} rows, expected ${model.size}`)
    if (state.kv !== expected) throw new Error(`${where}: ${name} key/version checksum ${state.kv} ≠ expected ${expected}`)
    if (state.kvv !== states[0]!.kvv) throw new Error(`${where}: ${name} key/version/value checksum differs from ${variants[0]!.name}`)
    if (setups[v]!.fenced !== setups[0]!.fenced) throw new Error(`${where}: ${name} fenced ${setups[v]!.fenced} rows, ${variants[0]!.name} ${setups[0]!.fenced}`)
  })
  process.stderr.write(`${where}: final state identical (${model.size} rows, md5 ${expected.slice(0, 8)}…, ${setups[0]!.fenced} fenced per variant)\n`)
}

// ---- run ----------------------------------------------------------------------------------------

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')
const started = Date.now()
const versionPool = new pg.Pool({ connectionString: PG_URL, max: 1 })
const server = (await versionPool.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version
await versionPool.end()

const results: CaseResult[] = []
for (const size of [1000, 100]) {
  for (const connections of [1, 4]) {
    results.push(await runCase(size, connections))
    process.stderr.write(`batch ${size} × ${connections} conn done (${((Date.now() - started) / 1000).toFixed(0)} s)\n`)
  }
}

console.log(`Date: ${new Date().toISOString()}; ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${os.cpus().length} cores; Node ${process.version}; PostgreSQL ${server} (loopback)`)
console.log(`${ROUNDS} rounds; per round ${STEPS[1000]} batches of 1000 / ${STEPS[100]} of 100 per variant per connection; run took ${((Date.now() - started) / 1000).toFixed(0)} s`)
console.log('')
console.log('| batch | conns | variant | rows/s (median) | min–max | vs unnest (median of per-round ratios) |')
console.log('|---:|---:|---|---:|---:|---:|')
for (const { size, connections, perRound } of results) {
  variants.forEach((variant, v) => {
    const runs = perRound[v]!
    const ratio = median(runs.map((r, i) => r / perRound[0]![i]!))
    console.log(`| ${size} | ${connections} | ${variant.name} | ${fmt(median(runs))} | ${fmt(Math.min(...runs))}–${fmt(Math.max(...runs))} | ${ratio.toFixed(2)}× |`)
  })
}
