/**
 * Where a `writebehind-redis-memory` write's time goes while the flusher runs beside it: one app
 * (64 writers, default flush) on a Redis of its own, with the event loop's delay sampled
 * (`monitorEventLoopDelay`), the CPU taken by this process, by Redis and by the whole machine, and
 * the commands Redis ran timed by its slow log, summed per script. Run under `node --cpu-prof` for
 * the JavaScript side:
 *
 *   flock /work/bench.lock node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/redis-profile.ts [uniform|zipf] [seconds]
 *
 * Environment: WB_PROFILE_SLOWLOG, the slow log's threshold in µs (default 0: every command, those
 * run inside scripts too, which slows the scripts; 20: the scripts alone, nearly; `off`: no slow log,
 * as for a CPU profile, which reading a million entries back would skew), and WB_PROFILE_FLUSH (the
 * cache's `flush` options as JSON, e.g. '{"batchSize":100}').
 */
import { readFileSync } from 'node:fs'
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'
import { Redis } from 'ioredis'
import { runLoad } from './driver.js'
import { startBenchRedis } from './lib/own-redis.js'
import { openPool, tableFor } from './lib/pg.js'
import { latencySummary } from './lib/stats.js'
import { openRedisApp } from './systems/writebehind-redis.js'
import type { BenchSystem } from './systems/types.js'
import { allWorkloads } from './workloads.js'
import { ALL_SCRIPTS } from '../src/tier/redis/scripts.js'
import { RETRY } from '../src/tier/redis/retry-scripts.js'

const workloadName = process.argv[2] ?? 'uniform'
const seconds = Number(process.argv[3] ?? '5')
const workload = allWorkloads().find((w) => w.name === workloadName)
if (workload === undefined) throw new Error(`unknown workload ${workloadName}`)

const server = await startBenchRedis()
const admin = new Redis(server.url)
const table = tableFor('writebehind-redis-profile')
const pool = openPool(1)
await pool.query(`DROP TABLE IF EXISTS ${table}`)
await pool.end()
const flush = process.env.WB_PROFILE_FLUSH === undefined ? undefined : (JSON.parse(process.env.WB_PROFILE_FLUSH) as Record<string, number>)
const app = await openRedisApp({ url: server.url }, table, 'memory', flush)
const threshold = process.env.WB_PROFILE_SLOWLOG ?? '0'
const slowlog = threshold !== 'off'
if (slowlog) await admin.call('CONFIG', 'SET', 'slowlog-log-slower-than', threshold)
await admin.call('CONFIG', 'SET', 'slowlog-max-len', '1000000')
await admin.call('SLOWLOG', 'RESET')
const names = new Map([...ALL_SCRIPTS, RETRY].map((s) => [s.sha, s.name]))

const delay = monitorEventLoopDelay({ resolution: 1 })
delay.enable()
const gcPauses: number[] = []
const gc = new PerformanceObserver((list) => gcPauses.push(...list.getEntries().map((e) => e.duration)))
gc.observe({ entryTypes: ['gc'] })
const redisCpu = async (): Promise<number> => {
  const info = String(await admin.call('INFO', 'cpu'))
  const field = (name: string): number => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? 'NaN')
  return field('used_cpu_sys') + field('used_cpu_user')
}
/** Busy and total jiffies of the whole machine (/proc/stat). */
const machine = (): [number, number] => {
  const [, ...f] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number)
  const idle = (f[3] ?? 0) + (f[4] ?? 0)
  const total = f.reduce((a, b) => a + b, 0)
  return [total - idle, total]
}
const cpuBefore = process.cpuUsage()
const redisBefore = await redisCpu()
const machineBefore = machine()
const system: BenchSystem = {
  name: 'profile',
  setup: () => Promise.reject(new Error('not used')),
  write: (key, value) => app.cache.set(key, value),
  drain: () => Promise.resolve(),
  dbStats: () => ({ ...app.db.counters }),
  teardown: () => Promise.resolve(),
}
const load = await runLoad(system, workload, { durationMs: seconds * 1000, writers: 64, maxWrites: 3_000_000 })
delay.disable()
gc.disconnect()
const cpu = process.cpuUsage(cpuBefore)
const redisSec = (await redisCpu()) - redisBefore
const machineAfter = machine()
const stats = app.cache.stats()
const backlog = stats.backlog.entries
const drainStart = performance.now()
await app.cache.flush()
const drainMs = performance.now() - drainStart

const log = (slowlog ? await admin.call('SLOWLOG', 'GET', '-1') : []) as Array<[number, number, number, string[]]>
const perScript = new Map<string, { calls: number; usec: number; max: number; durations: number[] }>()
for (const [, , usec, args] of log) {
  const name = args[0]?.toUpperCase() === 'EVALSHA' ? (names.get(String(args[1])) ?? 'script?') : String(args[0]).toLowerCase()
  const row = perScript.get(name) ?? { calls: 0, usec: 0, max: 0, durations: [] }
  row.calls++
  row.usec += usec
  row.max = Math.max(row.max, usec)
  row.durations.push(usec)
  perScript.set(name, row)
}
const lat = latencySummary(load.latencies)
console.log(
  `${workloadName}: ${Math.round(load.acked / (load.elapsedMs / 1000))} writes/s, p50 ${lat.p50.toFixed(2)} ms, p99 ${lat.p99.toFixed(2)} ms; backlog at the end ${backlog}, drain ${drainMs.toFixed(0)} ms; rows ${app.db.counters.rows} in ${app.db.counters.statements} statements`,
)
const loadSec = load.elapsedMs / 1000
console.log(
  `CPU over the load (cores): node ${((cpu.user + cpu.system) / 1e6 / loadSec).toFixed(2)}, redis ${(redisSec / loadSec).toFixed(2)}, whole machine ${((2 * (machineAfter[0] - machineBefore[0])) / (machineAfter[1] - machineBefore[1])).toFixed(2)} of 2; per acknowledged write: node ${((cpu.user + cpu.system) / load.acked).toFixed(1)} µs, redis ${((redisSec * 1e6) / load.acked).toFixed(1)} µs`,
)
console.log(
  `event loop delay: mean ${(delay.mean / 1e6).toFixed(2)} ms, p50 ${(delay.percentile(50) / 1e6).toFixed(2)}, p99 ${(delay.percentile(99) / 1e6).toFixed(2)}, max ${(delay.max / 1e6).toFixed(2)} ms`,
)
gcPauses.sort((a, b) => a - b)
console.log(
  `GC pauses during the load: ${gcPauses.length}, ${gcPauses.reduce((a, b) => a + b, 0).toFixed(0)} ms in all, p99 ${(gcPauses[Math.floor(gcPauses.length * 0.99)] ?? 0).toFixed(2)} ms, max ${(gcPauses.at(-1) ?? 0).toFixed(2)} ms`,
)
console.log(`Redis commands timed (slow log from ${threshold} µs, ${log.length} entries, load + drain):`)
for (const [name, row] of [...perScript].sort((a, b) => b[1].usec - a[1].usec)) {
  const sorted = row.durations.sort((a, b) => a - b)
  console.log(
    `  ${name.padEnd(12)} calls ${String(row.calls).padStart(8)}  total ${(row.usec / 1000).toFixed(0).padStart(6)} ms  mean ${(row.usec / row.calls).toFixed(1).padStart(7)} µs  p99 ${sorted[Math.floor(sorted.length * 0.99)]} µs  max ${row.max} µs`,
  )
}
await app.close()
admin.disconnect()
await server.stop()
