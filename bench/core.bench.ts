/**
 * Engine micro-benchmarks, each beside its raw limit measured in the same run:
 *   1. `await cache.set()` at durability `memory` (no dir), one writer, on 10k hot keys and on
 *      1M distinct keys, beside a bare `Map.set` loop that allocates one object per write.
 *   2. Flushing N dirty rows into SQLite through the cache, beside a raw prepared fenced upsert
 *      loop over the same rows, committing one transaction per batch of the same size (each
 *      commit is an fsync in WAL mode with synchronous=FULL, as SqliteStore opens its databases).
 *   3. `await cache.increment()` beside `await cache.set()` on the same 10k hot keys (memory, one
 *      writer), and a counter hammered by 64 concurrent writers on 10 keys with the default flush
 *      interval: the store ops a flush costs per key (MemoryStore counts them; 1.0 is the ideal).
 * Run: npx tsx bench/core.bench.ts [--runs 3] [--quick]
 * Prints medians of the runs and the ratio to the raw figure.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { MemoryStore, WriteBehindCache } from '../src/index.js'
import { SqliteStore } from '../src/stores/sql/sqlite/index.js'

const args = process.argv.slice(2)
const runs = Number(args[args.indexOf('--runs') + 1] ?? 3) || 3
const quick = args.includes('--quick')
const HOT_WRITES = quick ? 1_000_000 : 5_000_000
const DISTINCT = quick ? 200_000 : 1_000_000
const FLUSH_ROWS = quick ? 50_000 : 200_000

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

function perSecond(n: number, startNs: bigint): number {
  return n / (Number(process.hrtime.bigint() - startNs) / 1e9)
}

function bareMap(keys: string[], n: number): number {
  const map = new Map<string, { score: number }>()
  const t = process.hrtime.bigint()
  for (let i = 0; i < n; i++) map.set(keys[i % keys.length] as string, { score: i })
  return perSecond(n, t)
}

async function cacheSets(keys: string[], n: number): Promise<number> {
  const cache = await WriteBehindCache.open<{ score: number }>({
    store: new MemoryStore(),
    durability: 'memory',
    backlog: { maxEntries: 4_000_000 },
    warn: () => {},
  })
  const t = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await cache.set(keys[i % keys.length] as string, { score: i })
  const rate = perSecond(n, t)
  await cache.close()
  return rate
}

async function cacheIncrements(keys: string[], n: number): Promise<number> {
  const cache = await WriteBehindCache.open({ store: new MemoryStore(), durability: 'memory', backlog: { maxEntries: 4_000_000 }, warn: () => {} })
  for (const key of keys) await cache.increment(key) // the first increment of a key reads it: warm them all
  const t = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await cache.increment(keys[i % keys.length] as string)
  const rate = perSecond(n, t)
  await cache.close()
  return rate
}

/** 64 writers increment 10 counters for `ms` of real time: increments/s, and store ops per key per flush. */
async function hammeredCounters(ms: number): Promise<{ rate: number; opsPerKeyPerFlush: number; increments: number; ops: number }> {
  const store = new MemoryStore()
  const cache = await WriteBehindCache.open({ store, durability: 'memory', warn: () => {} })
  const keys = keysOf(10, 'counter')
  let increments = 0
  const end = Date.now() + ms
  const t = process.hrtime.bigint()
  await Promise.all(
    Array.from({ length: 64 }, async (_, w) => {
      for (let i = w; Date.now() < end; i++) {
        await cache.increment(keys[i % keys.length] as string)
        increments++
        if (i % 64 === 0) await new Promise((resolve) => setImmediate(resolve)) // let the flush timer run, as requests would
      }
    }),
  )
  const rate = perSecond(increments, t)
  await cache.flush()
  const { ops, batches } = store.counters
  await cache.close()
  const total = [...store.snapshot().values()].reduce((a: number, b) => a + (b as number), 0)
  if (total !== increments) throw new Error(`the store holds ${total} increments, ${increments} were acknowledged`)
  // One batch per flush here (10 keys < batchSize): ops per batch per key is ops per key per flush.
  return { rate, opsPerKeyPerFlush: ops / batches / keys.length, increments, ops }
}

function keysOf(n: number, prefix: string): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}:${i}`)
}

/** The raw limit: the same fenced upsert, prepared once, one transaction per `batch` rows. */
function rawSqlite(path: string, rows: number, batch: number): number {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL') // as SqliteStore opens it
  db.exec(`CREATE TABLE IF NOT EXISTS writebehind_entries (key TEXT PRIMARY KEY, value TEXT, version INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0, updated_at TEXT)`)
  const upsert = db.prepare(
    `INSERT INTO writebehind_entries (key, value, version, deleted, updated_at) VALUES (?, ?, ?, 0, datetime('now'))
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version, deleted = 0, updated_at = excluded.updated_at
     WHERE writebehind_entries.version < excluded.version`,
  )
  const encoded = Array.from({ length: rows }, (_, i) => JSON.stringify({ score: i }))
  const write = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) upsert.run(`row:${i}`, encoded[i], i + 1)
  })
  const t = process.hrtime.bigint()
  for (let from = 0; from < rows; from += batch) write(from, Math.min(rows, from + batch))
  const rate = perSecond(rows, t)
  db.close()
  return rate
}

async function cacheFlushSqlite(path: string, rows: number, batchSize: number): Promise<number> {
  const cache = await WriteBehindCache.open({
    store: new SqliteStore({ path }),
    durability: 'memory',
    flush: { intervalMs: 3_600_000, maxDelayMs: 3_600_000, batchSize: rows + 1, concurrency: 1 },
    backlog: { maxEntries: rows + 1 },
    warn: () => {},
  })
  for (let i = 0; i < rows; i++) await cache.set(`row:${i}`, { score: i })
  ;(cache as unknown as { engine: { options: { flush: { batchSize: number } } } }).engine.options.flush.batchSize = batchSize
  const t = process.hrtime.bigint()
  await cache.flush()
  const rate = perSecond(rows, t)
  await cache.close()
  return rate
}

interface Row {
  name: string
  ours: number
  raw: number
  /** The lowest acceptable ratio; undefined where the row is a comparison, not a target. */
  target?: number
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'wb-core-bench-'))
  const hot = keysOf(10_000, 'hot')
  const distinct = keysOf(DISTINCT, 'player')
  const results: Record<string, number[]> = {}
  const add = (name: string, value: number): void => void (results[name] ??= []).push(value)
  try {
    for (let r = 0; r < runs; r++) {
      process.stdout.write(`run ${r + 1}/${runs}: sets (hot)`)
      add('map-hot', bareMap(hot, HOT_WRITES))
      add('cache-hot', await cacheSets(hot, HOT_WRITES))
      process.stdout.write(', increments (hot)')
      add('cache-inc-hot', await cacheIncrements(hot, HOT_WRITES))
      process.stdout.write(', hammered counters')
      const hammered = await hammeredCounters(quick ? 1000 : 3000)
      add('hammered-rate', hammered.rate)
      add('hammered-ops', hammered.opsPerKeyPerFlush)
      process.stdout.write(', sets (distinct)')
      add('map-distinct', bareMap(distinct, DISTINCT))
      add('cache-distinct', await cacheSets(distinct, DISTINCT))
      for (const batch of [500, 1000]) {
        process.stdout.write(`, sqlite flush (batch ${batch})`)
        add(`raw-sqlite-${batch}`, rawSqlite(join(dir, `raw-${r}-${batch}.db`), FLUSH_ROWS, batch))
        add(`cache-sqlite-${batch}`, await cacheFlushSqlite(join(dir, `cache-${r}-${batch}.db`), FLUSH_ROWS, batch))
      }
      process.stdout.write('\n')
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const m = (name: string): number => median(results[name] ?? [0])
  const rows: Row[] = [
    { name: `await set(), memory, 10k hot keys (${HOT_WRITES / 1e6}M writes)`, ours: m('cache-hot'), raw: m('map-hot'), target: 0.2 },
    { name: `await set(), memory, ${DISTINCT / 1e6}M distinct keys`, ours: m('cache-distinct'), raw: m('map-distinct'), target: 0.75 },
    { name: `flush ${FLUSH_ROWS / 1000}k rows into SQLite, batch 500`, ours: m('cache-sqlite-500'), raw: m('raw-sqlite-500'), target: 0.9 },
    { name: `flush ${FLUSH_ROWS / 1000}k rows into SQLite, batch 1000`, ours: m('cache-sqlite-1000'), raw: m('raw-sqlite-1000'), target: 0.9 },
    { name: `await increment(), memory, 10k hot keys, beside await set() (ratio: increments per set)`, ours: m('cache-inc-hot'), raw: m('cache-hot') },
  ]
  console.log(`\nmedians of ${runs} runs, node ${process.version}\n`)
  console.log('| workload | writebehind /s | raw limit /s | ratio | target |')
  console.log('|---|---:|---:|---:|---:|')
  for (const row of rows) {
    const ratio = row.ours / row.raw
    const target = row.target === undefined ? '—' : `≥ ${row.target} ${ratio >= row.target ? 'met' : 'NOT met'}`
    console.log(`| ${row.name} | ${fmt(row.ours)} | ${fmt(row.raw)} | ${ratio.toFixed(2)} | ${target} |`)
  }
  console.log(
    `\nhammered counters (64 writers, 10 keys, default flush): ${fmt(m('hammered-rate'))} increments/s, ` +
      `${m('hammered-ops').toFixed(2)} store ops per key per flush (1.00: one op carries every increment of a key between flushes)`,
  )
}

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${(n / 1e3).toFixed(1)}k`
}

await main()
