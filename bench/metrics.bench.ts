/**
 * What the metrics adapters cost a write: `await cache.set()` at durability `memory` on 10k hot
 * keys (a MemoryStore, the flush running), one writer, side by side in one process with
 *   - no subscriber (the channels' `hasSubscribers` checks only),
 *   - a no-op subscriber on the write channel (the cost of building and publishing the message),
 *   - writebehind/prometheus on a prom-client Registry,
 *   - writebehind/otel on an SDK MeterProvider with a reader (in-memory exporter),
 * variants rotated from run to run so none always goes first, a full garbage collection before
 * each. Figures are writes per CPU-second of the process (`process.cpuUsage`); the ratio to "no
 * subscriber" is taken within each run and its median over runs printed with its range. Also
 * measured: one `cache.stats()` call, and one scrape (`register.metrics()`) of one cache.
 * Run: npx tsx bench/metrics.bench.ts [--runs 7] [--writes 300000]
 */
import diagnostics from 'node:diagnostics_channel'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics'
import { Registry } from 'prom-client'
import { CHANNELS } from '../src/contracts/diagnostics.js'
import { MemoryStore, WriteBehindCache } from '../src/index.js'
import { registerOpenTelemetry } from '../src/otel/index.js'
import { registerPrometheus } from '../src/prometheus/index.js'
import { median } from './lib/stats.js'

const args = process.argv.slice(2)
const runs = Number(args[args.indexOf('--runs') + 1] ?? 7) || 7
const WRITES = Number(args[args.indexOf('--writes') + 1] ?? 300_000) || 300_000
const keys = Array.from({ length: 10_000 }, (_, i) => `player:${i}`)

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

type Attach = (cache: WriteBehindCache) => () => Promise<void> | void

const VARIANTS: Array<{ name: string; attach: Attach }> = [
  { name: 'no subscriber', attach: () => () => undefined },
  {
    name: 'no-op subscriber',
    attach: () => {
      const noop = (): void => undefined
      diagnostics.subscribe(CHANNELS.write, noop)
      return () => void diagnostics.unsubscribe(CHANNELS.write, noop)
    },
  },
  {
    name: 'prometheus',
    attach: (cache) => {
      const handle = registerPrometheus(cache, { register: new Registry() })
      return () => handle.unregister()
    },
  },
  {
    name: 'otel (SDK, reader)',
    attach: (cache) => {
      const reader = new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), exportIntervalMillis: 3_600_000 })
      const provider = new MeterProvider({ readers: [reader] })
      const handle = registerOpenTelemetry(cache, { meterProvider: provider })
      return async () => {
        handle.unregister()
        await provider.shutdown()
      }
    },
  },
]

function perCpuSecond(n: number, since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since)
  return n / ((used.user + used.system) / 1e6)
}

async function measure(variant: (typeof VARIANTS)[number], run: number): Promise<number> {
  const cache = await WriteBehindCache.open<{ score: number }>({ store: new MemoryStore(), durability: 'memory', name: `bench-${run}-${variant.name}`, warn: () => {} })
  const detach = variant.attach(cache)
  for (let i = 0; i < 20_000; i++) await cache.set(keys[i % keys.length] as string, { score: i })
  gc()
  const since = process.cpuUsage()
  for (let i = 0; i < WRITES; i++) await cache.set(keys[i % keys.length] as string, { score: i })
  const rate = perCpuSecond(WRITES, since)
  await detach()
  await cache.close()
  return rate
}

async function readCosts(): Promise<{ statsUs: number; scrapeUs: number; scrapeBytes: number }> {
  const cache = await WriteBehindCache.open({ store: new MemoryStore(), durability: 'memory', name: 'scraped', warn: () => {} })
  const register = new Registry()
  const handle = registerPrometheus(cache, { register })
  for (let i = 0; i < 50_000; i++) await cache.set(keys[i % keys.length] as string, { score: i })
  await cache.flush()
  gc()
  let since = process.cpuUsage()
  for (let i = 0; i < 100_000; i++) cache.stats()
  const statsUs = 1e6 / perCpuSecond(100_000, since)
  let text = ''
  since = process.cpuUsage()
  for (let i = 0; i < 500; i++) text = await register.metrics()
  const scrapeUs = 1e6 / perCpuSecond(500, since)
  handle.unregister()
  await cache.close()
  return { statsUs, scrapeUs, scrapeBytes: text.length }
}

const rates = new Map<string, number[]>(VARIANTS.map((v) => [v.name, []]))
for (let run = 0; run < runs; run++) {
  const order = VARIANTS.map((_, i) => VARIANTS[(i + run) % VARIANTS.length] as (typeof VARIANTS)[number])
  for (const variant of order) rates.get(variant.name)?.push(await measure(variant, run))
}
const base = rates.get('no subscriber') as number[]
const fmt = (n: number): string => `${Math.round(n / 1000)}k`
console.log(`\`await set()\` at memory, 10k hot keys, ${WRITES} writes a run, ${runs} runs (node ${process.version}); writes per CPU-second\n`)
console.log('| variant | writes/s (median) | ratio to no subscriber (range) | extra CPU per write |')
console.log('|---|---:|---:|---:|')
for (const [name, figures] of rates) {
  const ratios = figures.map((f, i) => f / (base[i] as number))
  const extraNs = median(figures.map((f, i) => (1 / f - 1 / (base[i] as number)) * 1e9))
  console.log(
    `| ${name} | ${fmt(median(figures))} | ${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}) | ${name === 'no subscriber' ? '—' : `${Math.round(extraNs)} ns`} |`,
  )
}
const costs = await readCosts()
console.log(`\none cache.stats(): ${costs.statsUs.toFixed(2)} µs; one scrape of one cache (register.metrics(), ${costs.scrapeBytes} bytes): ${Math.round(costs.scrapeUs)} µs`)
