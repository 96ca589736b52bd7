/**
 * What `flush.order: 'global'` costs, beside key order, measured side by side in one run:
 *   - key order, concurrency 2 (the default), key order, concurrency 1, and global order (one
 *     batch in flight, so concurrency 1), each flushing the same workload into the same store:
 *   1. drain: 100k distinct keys written with flushing held off, then `flush()` timed: the rows/s
 *      the pipeline gets into the store (batches of 500);
 *   2. live zipf: 32 writers `await set()` zipf-skewed keys (100k players, s = 1.1) at durability
 *      `memory` for a few seconds with the default flush settings (every 500 ms, batches of 500);
 *      acknowledged writes/s, store rows per 100 writes, the largest lag seen (age of the oldest
 *      unflushed write, sampled every 50 ms), and how long the final `flush()` took.
 * Into SQLite (a file, WAL, synchronous = FULL) and PostgreSQL (WB_PG_URL, a pool of 4).
 * Run: npx tsx bench/order.bench.ts [--runs 3] [--quick] [--only sqlite,postgres]
 * Prints medians of the runs, and each figure's ratio to the default's in the same run (the
 * median of those ratios); configurations are interleaved within each run, their order rotated.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { WriteBehindCache, type BatchResult, type LoadedEntry, type Store, type StoreOp } from '../src/index.js'
import { PostgresStore } from '../src/stores/sql/postgres/index.js'
import { SqliteStore } from '../src/stores/sql/sqlite/index.js'
import { sampleCdf, seededRandom, zipfCdf } from './workloads.js'

const PG_URL = process.env.WB_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '3' }, quick: { type: 'boolean', default: false }, only: { type: 'string', default: 'sqlite,postgres' } } })
const RUNS = Number(args.runs)
const DRAIN_ROWS = args.quick ? 20_000 : 100_000
const LIVE_MS = args.quick ? 1500 : 4000
const WRITERS = 32
const PLAYERS = 100_000

interface Config {
  readonly name: string
  readonly order: 'key' | 'global'
  readonly concurrency: number
}

const CONFIGS: readonly Config[] = [
  { name: 'key, concurrency 2', order: 'key', concurrency: 2 },
  { name: 'key, concurrency 1', order: 'key', concurrency: 1 },
  { name: 'global', order: 'global', concurrency: 1 },
]

/** A store that counts the ops of the batches it was given. */
class CountingStore implements Store {
  ops = 0
  constructor(private readonly inner: Store) {}
  async writeBatch(ops: readonly StoreOp[]): Promise<BatchResult | void> {
    this.ops += ops.length
    return this.inner.writeBatch(ops)
  }
  load(keys: readonly string[]): Promise<Map<string, LoadedEntry>> {
    return this.inner.load(keys)
  }
  async close(): Promise<void> {
    await this.inner.close?.()
  }
}

interface Target {
  readonly name: string
  /** A fresh store on a fresh table; `drop` removes the table. */
  fresh(): Promise<{ store: Store; drop: () => Promise<void> }>
  end(): Promise<void>
}

let seq = 0

function sqliteTarget(dir: string): Target {
  return {
    name: 'SQLite',
    async fresh() {
      const store = new SqliteStore({ path: join(dir, `order-${seq++}.db`) })
      return { store, drop: async () => {} }
    },
    async end() {},
  }
}

function postgresTarget(): Target {
  const pool = new pg.Pool({ connectionString: PG_URL, max: 4 })
  pool.on('error', () => {})
  return {
    name: 'PostgreSQL',
    async fresh() {
      const table = `wb_order_bench_${process.pid}_${seq++}`
      const store = new PostgresStore({ pool, table })
      return { store, drop: async () => void (await pool.query(`DROP TABLE IF EXISTS ${table}`)) }
    },
    end: () => pool.end(),
  }
}

function now(): number {
  return performance.now()
}

/** Writes `rows` distinct keys with flushing held off, then times the flush. Rows/s. */
async function drain(target: Target, config: Config): Promise<number> {
  const { store, drop } = await target.fresh()
  const cache = await WriteBehindCache.open({
    store,
    durability: 'memory',
    flush: { order: config.order, concurrency: config.concurrency, intervalMs: 3_600_000, maxDelayMs: 3_600_000, triggerEntries: DRAIN_ROWS + 1 },
    backlog: { maxEntries: DRAIN_ROWS + 1 },
    warn: () => {},
  })
  for (let i = 0; i < DRAIN_ROWS; i++) await cache.set(`row:${i}`, { score: i })
  const t = now()
  await cache.flush()
  const rate = DRAIN_ROWS / ((now() - t) / 1000)
  await cache.close()
  await drop()
  return rate
}

interface Live {
  writesPerSec: number
  rowsPer100: number
  maxLagMs: number
  drainMs: number
}

/** 32 writers on zipf keys for LIVE_MS with the default flush settings. */
async function live(target: Target, config: Config, cdf: Float64Array): Promise<Live> {
  const { store, drop } = await target.fresh()
  const counting = new CountingStore(store)
  const cache = await WriteBehindCache.open({ store: counting, durability: 'memory', flush: { order: config.order, concurrency: config.concurrency }, warn: () => {} })
  let maxLagMs = 0
  const sampler = setInterval(() => void (maxLagMs = Math.max(maxLagMs, cache.stats().backlog.oldestDirtyAgeMs)), 50)
  let writes = 0
  const start = now()
  const end = start + LIVE_MS
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, w) => {
      const random = seededRandom(1000 + w)
      while (now() < end) {
        await new Promise<void>((resolve) => setImmediate(resolve))
        await cache.set(`player:${sampleCdf(cdf, random())}`, { score: writes })
        writes++
      }
    }),
  )
  const loadMs = now() - start
  const t = now()
  await cache.flush()
  const drainMs = now() - t
  clearInterval(sampler)
  await cache.close()
  await drop()
  return { writesPerSec: writes / (loadMs / 1000), rowsPer100: (100 * counting.ops) / writes, maxLagMs, drainMs }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

function fmt(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`
  return n.toFixed(n >= 100 ? 0 : 1)
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'wb-order-bench-'))
  const only = (args.only ?? '').split(',')
  const targets: Target[] = []
  if (only.includes('sqlite')) targets.push(sqliteTarget(dir))
  if (only.includes('postgres')) targets.push(postgresTarget())
  const cdf = zipfCdf(PLAYERS, 1.1)
  const results = new Map<string, number[]>()
  const add = (name: string, value: number): void => void (results.get(name) ?? results.set(name, []).get(name))!.push(value)
  try {
    for (let r = 0; r < RUNS; r++) {
      for (const target of targets) {
        // Rotate which configuration goes first, so drift in the machine hits them alike.
        const configs = CONFIGS.map((_, i) => CONFIGS[(i + r) % CONFIGS.length] as Config)
        for (const config of configs) {
          process.stdout.write(`run ${r + 1}/${RUNS} ${target.name} ${config.name}: drain`)
          add(`${target.name}|${config.name}|drain`, await drain(target, config))
          process.stdout.write(', live\n')
          const l = await live(target, config, cdf)
          add(`${target.name}|${config.name}|writes`, l.writesPerSec)
          add(`${target.name}|${config.name}|rows`, l.rowsPer100)
          add(`${target.name}|${config.name}|lag`, l.maxLagMs)
          add(`${target.name}|${config.name}|drainMs`, l.drainMs)
        }
      }
    }
  } finally {
    for (const target of targets) await target.end()
    rmSync(dir, { recursive: true, force: true })
  }
  const m = (name: string): number => median(results.get(name) ?? [0])
  /** The median over runs of `name`'s figure divided by `base`'s figure of the same run. */
  const ratioOf = (name: string, base: string): number => {
    const a = results.get(name) ?? []
    const b = results.get(base) ?? []
    return median(a.map((x, i) => x / (b[i] as number)))
  }
  console.log(`\nmedians of ${RUNS} runs, node ${process.version}; (×) is the median over runs of the ratio to key order, concurrency 2, in the same run\n`)
  console.log(`| store | order | drain ${DRAIN_ROWS / 1000}k rows, rows/s | live zipf: writes/s | rows per 100 writes | max lag | final flush |`)
  console.log('|---|---|--:|--:|--:|--:|--:|')
  for (const target of targets) {
    for (const config of CONFIGS) {
      const v = (what: string): number => m(`${target.name}|${config.name}|${what}`)
      const ratio = (what: string): string => (config === CONFIGS[0] ? '' : ` (${ratioOf(`${target.name}|${config.name}|${what}`, `${target.name}|${CONFIGS[0]?.name}|${what}`).toFixed(2)}×)`)
      console.log(
        `| ${target.name} | ${config.name} | ${fmt(v('drain'))}${ratio('drain')} | ${fmt(v('writes'))}${ratio('writes')} | ${v('rows').toFixed(1)} | ${fmt(v('lag'))} ms${ratio('lag')} | ${fmt(v('drainMs'))} ms |`,
      )
    }
  }
}

await main()
