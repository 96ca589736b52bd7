/**
 * Where the Redis tier's drain of a backlog spends its time (`npx tsx bench/flush-drain.ts [keys]
 * [--workload uniform|zipf] [--writes n] [--cpu-prof file] [--heap-prof file]`): a cache on a Redis of its own (AOF on,
 * as the bench's) with nothing flushed during the load; 64 writers write `--writes` writes of the
 * workload's keys (default `keys`); then `flush()` drains the backlog into PostgreSQL (a fresh table
 * of the built-in layout). Prints the drain's rows/s, the time the store's `writeBatch` calls took
 * (summed, and the share of the drain with at least one in flight), the Redis scripts' server-side
 * time from INFO commandstats (reset before the drain), Redis's own CPU over the drain, the event
 * loop's utilization and delay (with no writers, the delay is the flush's own longest synchronous
 * stretches, and the machine's scheduling), its GC pauses (count and sum, scavenges apart), and with `--cpu-prof` writes a
 * V8 CPU profile of the drain alone, with `--heap-prof` a sampling heap profile of what the drain
 * allocated (objects the GC already took included: allocation, not retention).
 * Not a target's figure: the bench's `writebehind-redis-memory-flush` against `pg-ceiling` is.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { parseArgs } from 'node:util'
import { constants as perf, monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks'
import { Redis } from 'ioredis'
import { WriteBehindCache } from '../src/core/write-behind-cache.js'
import { RedisTier } from '../src/redis.js'
import { PostgresStore } from '../src/stores/sql/postgres/index.js'
import type { StoreOp } from '../src/contracts/store.js'
import { infoFields } from '../src/tier/redis/startup.js'
import { startBenchRedis } from './lib/own-redis.js'
import { PG_URL } from './lib/pg.js'
import pg from 'pg'
import { allWorkloads } from './workloads.js'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    workload: { type: 'string', default: 'uniform' },
    writes: { type: 'string' },
    'cpu-prof': { type: 'string' },
    'heap-prof': { type: 'string' },
    'batch-size': { type: 'string' },
    concurrency: { type: 'string' },
    'redis-callgrind': { type: 'string' },
  },
})
const KEYS = Number(positionals[0] ?? 100_000)
const WRITES = Number(values.writes ?? KEYS)
const WRITERS = 64
const HELD = { intervalMs: 3_600_000, maxDelayMs: 3_600_000, triggerEntries: 10_000_000 }
const TABLE = 'bench_flush_drain'

/** A PostgresStore that times its batches: the summed time, and the time with at least one in flight. */
class TimedStore extends PostgresStore {
  summed = 0
  covered = 0
  batches = 0
  rows = 0
  private inFlight = 0
  private since = 0

  override async writeBatch(ops: readonly StoreOp[]): ReturnType<PostgresStore['writeBatch']> {
    const start = performance.now()
    if (this.inFlight++ === 0) this.since = start
    try {
      return await super.writeBatch(ops)
    } finally {
      const end = performance.now()
      this.summed += end - start
      this.batches++
      this.rows += ops.length
      if (--this.inFlight === 0) this.covered += end - this.since
    }
  }
}

async function main(): Promise<void> {
  const workload = allWorkloads().find((w) => w.name === values.workload)
  if (workload === undefined) throw new Error(`unknown workload ${values.workload}`)
  const callgrind = values['redis-callgrind']
  const server = await startBenchRedis(undefined, callgrind === undefined ? [] : ['valgrind', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${callgrind}`])
  const client = new Redis(server.url)
  const admin = new Redis(server.url)
  // Connections that never idle out: their server processes' CPU is read before and after the drain.
  const pool = new pg.Pool({ connectionString: PG_URL, max: 4, idleTimeoutMillis: 0 })
  await pool.query(`DROP TABLE IF EXISTS ${TABLE}`)
  const store = new TimedStore({ pool, table: TABLE })
  const flush = {
    ...HELD,
    ...(values['batch-size'] === undefined ? {} : { batchSize: Number(values['batch-size']) }),
    ...(values.concurrency === undefined ? {} : { concurrency: Number(values.concurrency) }),
  }
  const cache = await WriteBehindCache.open({ store, tier: new RedisTier({ client, name: 'drain' }), durability: 'memory', flush, warn: () => {} })
  try {
    let seq = 0
    await Promise.all(
      Array.from({ length: WRITERS }, async (_, id) => {
        const keys = workload.keys(id)
        while (seq < WRITES) {
          const n = ++seq
          await cache.set(keys.next(), { seq: n, score: (n * 7919) % 1_000_003 })
        }
      }),
    )
    await store.init()
    const backends = await backendPids(pool)
    const pgBefore = processCpu(backends)
    await admin.config('RESETSTAT')
    const cpuBefore = redisCpu(String(await admin.info('cpu')))
    const session = values['cpu-prof'] === undefined && values['heap-prof'] === undefined ? undefined : new Session()
    if (session !== undefined) session.connect()
    if (session !== undefined && values['cpu-prof'] !== undefined) {
      await session.post('Profiler.enable')
      await session.post('Profiler.start')
    }
    if (session !== undefined && values['heap-prof'] !== undefined) {
      await session.post('HeapProfiler.enable')
      await session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
    }
    const gc = { minor: 0, minorMs: 0, other: 0, otherMs: 0 }
    const gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = (entry as { detail?: { kind?: number } }).detail?.kind
        if (kind === perf.NODE_PERFORMANCE_GC_MINOR) {
          gc.minor++
          gc.minorMs += entry.duration
        } else {
          gc.other++
          gc.otherMs += entry.duration
        }
      }
    })
    gcObserver.observe({ entryTypes: ['gc'] })
    const delay = monitorEventLoopDelay({ resolution: 1 })
    delay.enable()
    if (callgrind !== undefined) execFileSync('callgrind_control', ['-i', 'on', String(server.pid)])
    const elu = performance.eventLoopUtilization()
    const nodeBefore = process.cpuUsage()
    const start = performance.now()
    await cache.flush()
    const drainMs = performance.now() - start
    const loop = performance.eventLoopUtilization(elu)
    const nodeUsage = process.cpuUsage(nodeBefore)
    const nodeCpu = (nodeUsage.user + nodeUsage.system) / 1000
    if (callgrind !== undefined) {
      execFileSync('callgrind_control', ['-i', 'off', String(server.pid)])
      execFileSync('callgrind_control', ['-d', String(server.pid)])
    }
    gcObserver.disconnect()
    delay.disable()
    if (session !== undefined && values['cpu-prof'] !== undefined) {
      const { profile } = await session.post('Profiler.stop')
      await writeFile(values['cpu-prof'], JSON.stringify(profile))
    }
    if (session !== undefined && values['heap-prof'] !== undefined) {
      const { profile } = await session.post('HeapProfiler.stopSampling')
      await writeFile(values['heap-prof'], JSON.stringify(profile))
    }
    session?.disconnect()
    const cpuAfter = redisCpu(String(await admin.info('cpu')))
    const pgAfter = processCpu(backends)
    const pgCpu = pgAfter.ms - pgBefore.ms
    const stats = infoFields(String(await admin.info('commandstats')))
    console.log(
      `${values.workload}: ${WRITES} writes of ${KEYS} keys; drained ${store.rows} rows in ${store.batches} batches in ${drainMs.toFixed(0)} ms: ${Math.round(store.rows / (drainMs / 1000))} rows/s`,
    )
    console.log(`store.writeBatch: ${store.summed.toFixed(0)} ms summed, ${store.covered.toFixed(0)} ms (${pct(store.covered, drainMs)}) with one in flight`)
    console.log(`redis-server CPU over the drain: ${(cpuAfter - cpuBefore).toFixed(0)} ms (${pct(cpuAfter - cpuBefore, drainMs)})`)
    console.log(
      `PostgreSQL backends' CPU over the drain: ${pgCpu.toFixed(0)} ms (${pct(pgCpu, drainMs)}); per row: Redis ${(((cpuAfter - cpuBefore) * 1000) / store.rows).toFixed(1)} µs, PostgreSQL ${((pgCpu * 1000) / store.rows).toFixed(1)} µs${pgAfter.gone > 0 ? ` (partial: ${pgAfter.gone} backend(s) gone)` : ''}, this process ${((nodeCpu * 1000) / store.rows).toFixed(1)} µs (in the kernel ${(nodeUsage.system / store.rows).toFixed(1)})`,
    )
    console.log(`event loop utilization: ${pct(loop.utilization, 1)}; delay p50 ${ms(delay.percentile(50))}, p99 ${ms(delay.percentile(99))}, max ${ms(delay.max)} ms`)
    console.log(`GC over the drain: ${gc.minor} scavenges (${gc.minorMs.toFixed(0)} ms), ${gc.other} other (${gc.otherMs.toFixed(0)} ms)`)
    for (const [name, line] of stats) if (/calls=/.test(line)) console.log(`  ${name}: ${line}`)
  } finally {
    await cache.close().catch(() => {})
    client.disconnect()
    admin.disconnect()
    await pool.query(`DROP TABLE IF EXISTS ${TABLE}`).catch(() => {})
    await pool.end()
    await server.stop()
  }
}

/** The server pids of the pool's connections (each held at once, so each is a different one). */
async function backendPids(pool: pg.Pool): Promise<number[]> {
  const clients = await Promise.all(Array.from({ length: 4 }, () => pool.connect()))
  try {
    return await Promise.all(clients.map(async (c) => Number((await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid)))
  } finally {
    for (const c of clients) c.release()
  }
}

/**
 * utime + stime of `pids`, ms (from /proc; 100 ticks a second), and how many of them are gone (a
 * backend another program terminated: the pool replaced it, and its CPU is no longer counted).
 */
function processCpu(pids: readonly number[]): { ms: number; gone: number } {
  let ticks = 0
  let gone = 0
  for (const pid of pids) {
    let stat: string
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    } catch {
      gone++
      continue
    }
    const fields = stat.split(') ')[1]?.split(' ') ?? []
    ticks += Number(fields[11]) + Number(fields[12])
  }
  return { ms: ticks * 10, gone }
}

function redisCpu(info: string): number {
  const fields = infoFields(info)
  return (Number(fields.get('used_cpu_user') ?? 0) + Number(fields.get('used_cpu_sys') ?? 0)) * 1000
}

/** Nanoseconds as milliseconds. */
function ms(ns: number): string {
  return (ns / 1e6).toFixed(2)
}

function pct(part: number, whole: number): string {
  return `${((100 * part) / whole).toFixed(0)}%`
}

await main()
