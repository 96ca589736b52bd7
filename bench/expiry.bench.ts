/**
 * What expiry costs the cache itself: the same workloads with no ttl and with `ttlMs` set (long
 * enough that nothing expires), side by side in one run, variants rotated from run to run so none
 * always goes first:
 *   1. `await cache.set()` on distinct keys (each write allocates an entry);
 *   2. `await cache.get()` hits on 100k clean keys (each checks the entry's expiry);
 *   3. flushing 100k dirty entries into a MemoryStore (each entry's ttl starts).
 * Figures are operations per CPU-second of this process (`process.cpuUsage`), which other processes
 * on a shared machine disturb less than wall time; the ratio (the median over runs of each run's
 * ratio to "no ttl") is what to read, and the flush figure, a tenth of a second a run, is the
 * noisiest (a garbage collection landing in it moves it by half).
 * Run: npx tsx bench/expiry.bench.ts [--runs 7]
 */
import { MemoryStore, WriteBehindCache } from '../src/index.js'

const args = process.argv.slice(2)
const runs = Number(args[args.indexOf('--runs') + 1] ?? 7) || 7
const KEYS = 100_000
const GETS = 1_000_000
const keys = Array.from({ length: KEYS }, (_, i) => `player:${i}`)

const VARIANTS = [
  { name: 'no ttl', options: {} },
  { name: 'ttlMs: 1 h', options: { ttlMs: 3_600_000 } },
] as const

function perCpuSecond(n: number, since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since)
  return n / ((used.user + used.system) / 1e6)
}

/** One pass of the three workloads on a fresh cache; returns sets, gets and flushed entries per CPU-second. */
async function measure(options: object): Promise<Record<string, number>> {
  const cache = await WriteBehindCache.open<{ score: number }>({ store: new MemoryStore(), durability: 'memory', warn: () => {}, ...options })
  let since = process.cpuUsage()
  for (let i = 0; i < KEYS; i++) await cache.set(keys[i] as string, { score: i })
  const sets = perCpuSecond(KEYS, since)
  since = process.cpuUsage()
  await cache.flush()
  const flushed = perCpuSecond(KEYS, since)
  since = process.cpuUsage()
  for (let i = 0; i < GETS; i++) await cache.get(keys[(i * 7919) % KEYS] as string)
  const gets = perCpuSecond(GETS, since)
  await cache.close()
  return { 'set, distinct keys': sets, 'get, hits': gets, 'flush, per entry': flushed }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

async function main(): Promise<void> {
  const results = new Map<string, number[]>()
  for (let r = 0; r < runs; r++) {
    process.stdout.write(`run ${r + 1}/${runs}\n`)
    for (let v = 0; v < VARIANTS.length; v++) {
      const variant = VARIANTS[(v + r) % VARIANTS.length] as (typeof VARIANTS)[number]
      for (const [workload, rate] of Object.entries(await measure(variant.options))) {
        const key = `${workload}|${variant.name}`
        results.set(key, [...(results.get(key) ?? []), rate])
      }
    }
  }
  console.log(`\nmedians of ${runs} runs, node ${process.version}, operations per CPU-second\n`)
  console.log('| workload | no ttl | ttlMs: 1 h | ratio (range over runs) |')
  console.log('|---|---:|---:|---:|')
  for (const workload of ['set, distinct keys', 'get, hits', 'flush, per entry']) {
    const off = results.get(`${workload}|no ttl`) ?? []
    const on = results.get(`${workload}|ttlMs: 1 h`) ?? []
    const ratios = on.map((rate, i) => rate / (off[i] as number))
    const range = `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`
    console.log(`| ${workload} | ${(median(off) / 1000).toFixed(0)}k | ${(median(on) / 1000).toFixed(0)}k | ${median(ratios).toFixed(2)} (${range}) |`)
  }
}

await main()
