/**
 * Engine micro-benchmarks, each beside its limit measured in the same run:
 *   1. `await cache.set()` at durability `memory` (no dir, MemoryStore), one writer, on 10k hot
 *      keys and on 1M distinct keys, beside the floor of one awaited write: a loop that awaits a
 *      function doing `JSON.stringify` of the value and one `Map.set` of a fresh
 *      `{ encoded, version }` object, returning a resolved promise. The floor is the reference
 *      (target: set ≥ 0.8 of it); a bare `Map.set` loop (no encoding, no await) is shown for scale.
 *   2. Flushing N dirty rows into SQLite through the cache, beside a raw prepared fenced upsert
 *      loop over the same rows, committing one transaction per batch of the same size (each
 *      commit is an fsync in WAL mode with synchronous=FULL, as SqliteStore opens its databases).
 *      The same loop with a subscriber on the `writebehind:write` diagnostics channel, beside the
 *      loop without one (run first): the price of a write's message when someone listens. The
 *      no-subscriber loop is the one measured against the floor, so its ratio, compared with the
 *      one a build without the channels prints, is the cost of the channels when nobody listens.
 *   3. `await cache.increment()` beside `await cache.set()` on the same 10k hot keys (memory, one
 *      writer), and a counter hammered by 64 concurrent writers on 10 keys with the default flush
 *      interval: the store ops a flush costs per key (MemoryStore counts them; 1.0 is the ideal).
 * Within each run the figures compared run back to back in one process, with a full garbage
 * collection before each (so neither pays for the other's garbage), the floor first in odd runs
 * and the cache first in even ones. The write loops are timed in CPU time of the process by
 * default (`--clock cpu`): on a shared machine, time spent descheduled is not the code's, and the
 * collector's helper threads still count; `--clock wall` times them by the wall clock. The flush
 * figures wait on fsync, so they are always wall-clock. Each ratio is taken within its run, then
 * the median of the runs is printed with the range of the per-run ratios.
 * Run: npx tsx bench/core.bench.ts [--runs 3] [--quick] [--only sets|flush] [--clock cpu|wall]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import diagnosticsChannel from 'node:diagnostics_channel'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import Database from 'better-sqlite3'
import { CHANNELS, MemoryStore, WriteBehindCache } from '../src/index.js'
import { SqliteStore } from '../src/stores/sql/sqlite/index.js'
import { median, medianRatio } from './lib/stats.js'

const args = process.argv.slice(2)
const runs = Number(args[args.indexOf('--runs') + 1] ?? 3) || 3
const quick = args.includes('--quick')
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined
if (only !== undefined && only !== 'sets' && only !== 'flush') throw new TypeError(`--only takes sets or flush, got ${String(only)}`)
const HOT_WRITES = quick ? 1_000_000 : 5_000_000
const DISTINCT = quick ? 200_000 : 1_000_000
const FLUSH_ROWS = quick ? 50_000 : 200_000
const clock = args.includes('--clock') ? args[args.indexOf('--clock') + 1] : 'cpu'
if (clock !== 'cpu' && clock !== 'wall') throw new TypeError(`--clock takes cpu or wall, got ${String(clock)}`)

setFlagsFromString('--expose-gc')
/** A full collection, so that a measurement starts without another one's garbage. */
const gc = runInNewContext('gc') as () => void

/** Nanoseconds: CPU time of the process (user + system, all threads), or the wall clock. */
function loopClock(): number {
  if (clock === 'wall') return Number(process.hrtime.bigint())
  const { user, system } = process.cpuUsage()
  return (user + system) * 1000
}

function perSecond(n: number, startNs: bigint): number {
  return n / (Number(process.hrtime.bigint() - startNs) / 1e9)
}

function loopRate(n: number, start: number): number {
  return n / ((loopClock() - start) / 1e9)
}

function bareMap(keys: string[], n: number): number {
  const map = new Map<string, { score: number }>()
  const t = loopClock()
  for (let i = 0; i < n; i++) map.set(keys[i % keys.length] as string, { score: i })
  return loopRate(n, t)
}

interface Written {
  encoded: string
  version: number
}

const RESOLVED: Promise<void> = Promise.resolve()

/** The floor of one write: encode, store one fresh record, acknowledge. */
function floorWrite(map: Map<string, Written>, key: string, value: unknown, version: number): Promise<void> {
  map.set(key, { encoded: JSON.stringify(value), version })
  return RESOLVED
}

async function floorSets(keys: string[], n: number): Promise<number> {
  const map = new Map<string, Written>()
  const t = loopClock()
  for (let i = 0; i < n; i++) await floorWrite(map, keys[i % keys.length] as string, { score: i }, i + 1)
  return loopRate(n, t)
}

/**
 * A tight loop of awaited writes: nothing yields to the event loop, so no flush runs meanwhile.
 * `subscribed`: with a subscriber on the write channel that reads each message.
 */
async function cacheSets(keys: string[], n: number, subscribed = false): Promise<number> {
  const cache = await WriteBehindCache.open<{ score: number }>({
    store: new MemoryStore(),
    durability: 'memory',
    backlog: { maxEntries: 4_000_000 },
    warn: () => {},
  })
  let slowest = 0
  const onWrite = (message: unknown): void => {
    const { durationMs } = message as { durationMs: number }
    if (durationMs > slowest) slowest = durationMs
  }
  if (subscribed) diagnosticsChannel.subscribe(CHANNELS.write, onWrite)
  const t = loopClock()
  for (let i = 0; i < n; i++) await cache.set(keys[i % keys.length] as string, { score: i })
  const rate = loopRate(n, t)
  if (subscribed) diagnosticsChannel.unsubscribe(CHANNELS.write, onWrite)
  if (subscribed && !(slowest > 0)) throw new Error('the write channel published nothing')
  await cache.close()
  return rate
}

/** The floor and the cache on the same keys, in the order of run `r`, each after a full collection. */
async function floorAndSets(r: number, keys: string[], n: number): Promise<{ floor: number; cache: number }> {
  gc()
  if (r % 2 === 0) {
    const floor = await floorSets(keys, n)
    gc()
    return { floor, cache: await cacheSets(keys, n) }
  }
  const cache = await cacheSets(keys, n)
  gc()
  return { floor: await floorSets(keys, n), cache }
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

interface Row {
  name: string
  ours: string
  reference: string
  /** Shown for scale only. */
  extra?: string
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
      process.stdout.write(`run ${r + 1}/${runs}:`)
      if (only !== 'flush') {
        process.stdout.write(' sets (hot)')
        gc()
        add('map-hot', bareMap(hot, HOT_WRITES))
        const hotRun = await floorAndSets(r, hot, HOT_WRITES)
        add('floor-hot', hotRun.floor)
        add('cache-hot', hotRun.cache)
        process.stdout.write(', sets (hot, subscribed)')
        gc()
        add('cache-hot-subscribed', await cacheSets(hot, HOT_WRITES, true))
        process.stdout.write(', sets (distinct)')
        gc()
        add('map-distinct', bareMap(distinct, DISTINCT))
        const distinctRun = await floorAndSets(r, distinct, DISTINCT)
        add('floor-distinct', distinctRun.floor)
        add('cache-distinct', distinctRun.cache)
        process.stdout.write(', increments (hot)')
        gc()
        add('cache-inc-hot', await cacheIncrements(hot, HOT_WRITES))
        process.stdout.write(', hammered counters')
        const hammered = await hammeredCounters(quick ? 1000 : 3000)
        add('hammered-rate', hammered.rate)
        add('hammered-ops', hammered.opsPerKeyPerFlush)
      }
      if (only !== 'sets') {
        for (const batch of [500, 1000]) {
          process.stdout.write(`, sqlite flush (batch ${batch})`)
          add(`raw-sqlite-${batch}`, rawSqlite(join(dir, `raw-${r}-${batch}.db`), FLUSH_ROWS, batch))
          add(`cache-sqlite-${batch}`, await cacheFlushSqlite(join(dir, `cache-${r}-${batch}.db`), FLUSH_ROWS, batch))
        }
      }
      process.stdout.write('\n')
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const rows: Row[] = []
  if (only !== 'flush') {
    rows.push(
      { name: `await set(), memory, 10k hot keys (${HOT_WRITES / 1e6}M writes)`, ours: 'cache-hot', reference: 'floor-hot', extra: 'map-hot', target: 0.8 },
      { name: `await set(), memory, 10k hot keys, a subscriber on writebehind:write, beside none (ratio: with / without)`, ours: 'cache-hot-subscribed', reference: 'cache-hot' },
      { name: `await set(), memory, ${DISTINCT / 1e6}M distinct keys`, ours: 'cache-distinct', reference: 'floor-distinct', extra: 'map-distinct', target: 0.8 },
      { name: `await increment(), memory, 10k hot keys, beside await set() (ratio: increments per set)`, ours: 'cache-inc-hot', reference: 'cache-hot' },
    )
  }
  if (only !== 'sets') {
    rows.push(
      { name: `flush ${FLUSH_ROWS / 1000}k rows into SQLite, batch 500`, ours: 'cache-sqlite-500', reference: 'raw-sqlite-500', target: 0.9 },
      { name: `flush ${FLUSH_ROWS / 1000}k rows into SQLite, batch 1000`, ours: 'cache-sqlite-1000', reference: 'raw-sqlite-1000', target: 0.9 },
    )
  }
  const all = (name: string | undefined): number[] => (name === undefined ? [] : (results[name] ?? []))
  console.log(`\nmedians of ${runs} runs (ratios taken within each run), write loops timed by ${clock === 'cpu' ? 'CPU time' : 'the wall clock'}, node ${process.version}\n`)
  console.log('| workload | writebehind /s | reference /s (floor or raw limit) | ratio (per-run range) | target | bare Map.set /s |')
  console.log('|---|---:|---:|---:|---:|---:|')
  for (const row of rows) {
    const ours = all(row.ours)
    const reference = all(row.reference)
    const ratios = ours.map((x, i) => x / (reference[i] as number))
    const ratio = medianRatio(ours, reference)
    const range = `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`
    const extra = row.extra === undefined ? '—' : fmt(median(all(row.extra)))
    console.log(
      `| ${row.name} | ${fmt(median(ours))} | ${fmt(median(reference))} | ${ratio.toFixed(2)} (${range}) | ${row.target === undefined ? '—' : `≥ ${row.target} ${ratio >= row.target ? 'met' : 'NOT met'}`} | ${extra} |`,
    )
  }
  if (only !== 'flush') {
    console.log(`\n64 writers hammering 10 counters: ${fmt(median(all('hammered-rate')))} increments/s, ${median(all('hammered-ops')).toFixed(2)} store ops per key per flush (1.0 is the ideal)`)
  }
}

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${(n / 1e3).toFixed(1)}k`
}

await main()
