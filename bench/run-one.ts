/**
 * Runs one measurement in its own process (so peak RSS and leftovers belong to one system):
 * set up the system, drive the load, time the drain, count what reached PostgreSQL, check the
 * final state, tear down, and write a `RunResult` as JSON to the file named in the job.
 * Started by bench/run.ts as `node --import tsx bench/run-one.ts '<job json>'`.
 */
import { writeFile } from 'node:fs/promises'
import type pg from 'pg'
import { performance } from 'node:perf_hooks'
import { CEILING, measureCeiling } from './ceiling.js'
import { runLoad, type LoadOptions, type LoadResult } from './driver.js'
import { CpuMeter, postmasterOf, snapshot, type CpuWindow } from './lib/cpu.js'
import { startBenchRedis } from './lib/own-redis.js'
import { openPool, settledTuplesWritten, tuplesWritten } from './lib/pg.js'
import { failedRun, type Job, type RunResult } from './lib/result.js'
import { latencySummary } from './lib/stats.js'
import { verifyCounts, verifyFinalState } from './lib/verify.js'
import { SCRIPT_LIMIT, SCRIPT_LIMIT_4, measureScriptLimit } from './redis-limit.js'
import { SYSTEMS } from './systems/index.js'
import type { BenchSystem, TableInfo } from './systems/types.js'
import { allWorkloads, type Workload } from './workloads.js'

const job = JSON.parse(process.argv[2] ?? '{}') as Job
const label = `${job.system} / ${job.workload} / run ${job.run}`

function log(message: string): void {
  process.stderr.write(`  [${label}] ${message}\n`)
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function jobWorkload(): Workload {
  const workload = allWorkloads().find((w) => w.name === job.workload)
  if (workload === undefined) throw new Error(`unknown workload ${job.workload}`)
  return workload
}

let cpuUnavailable: string | undefined

/**
 * A CPU meter for this process, what runs under it, and the PostgreSQL cluster behind `admin`. Where
 * the figures cannot be read at all (no /proc, PostgreSQL on another host or in a container, other
 * users' sockets closed to this user) the meter says so once and its figures show as —; a reading
 * that fails once the first one worked still fails the measurement.
 */
async function cpuMeter(admin: pg.Pool): Promise<CpuMeter> {
  if (cpuUnavailable !== undefined) return CpuMeter.unavailable()
  try {
    const postmaster = await postmasterOf(admin)
    snapshot({ postmaster })
    return new CpuMeter(() => snapshot({ postmaster }))
  } catch (err) {
    cpuUnavailable = (err as Error).message
    process.stderr.write(`bench: no CPU figures in this measurement (${cpuUnavailable})\n`)
    return CpuMeter.unavailable()
  }
}

async function measure(system: BenchSystem, teardown: () => Promise<void>, admin: pg.Pool): Promise<RunResult> {
  const workload = jobWorkload()
  const info: TableInfo = await system.setup()
  const before = await tuplesWritten(admin, info.table)
  const { load, drainMs, backlog, cpu } = await loadAndDrain(system, workload, [await cpuMeter(admin), await cpuMeter(admin)])
  const peakRssMb = process.resourceUsage().maxRSS / 1024
  const counted = system.dbStats()
  await teardown()
  const pgStatRows = (await settledTuplesWritten(admin, info.table, before + counted.rows)) - before
  const verify = system.counter === true ? await verifyCounts(admin, info, load.counts, load.failedKeys) : await verifyFinalState(admin, info, load.lastAcked, load.failedKeys)
  if (!verify.ok) log(`FINAL STATE MISMATCH: ${verify.mismatches} keys differ, ${verify.unexpected} unexpected rows; ${verify.examples.join('; ')}`)
  return { ...toResult(load, { drainMs, peakRssMb, counted, pgStatRows, verify }), backlogAtEnd: backlog, cpu }
}

async function loadAndDrain(
  system: BenchSystem,
  workload: Workload,
  [loadCpu, drainCpu]: [CpuMeter, CpuMeter],
): Promise<{ load: LoadResult; drainMs: number; backlog: number; cpu: { load: CpuWindow; drain: CpuWindow } }> {
  log(`load for ${job.durationMs} ms with ${job.writers} writers`)
  const options: LoadOptions = {
    window: loadCpu,
    arrival: job.arrival ?? 'immediate',
    durationMs: job.durationMs,
    writers: job.writers,
    maxWrites: job.maxWrites,
    onProgress: (acked, ms) => log(`${(ms / 1000).toFixed(0)} s: ${acked.toLocaleString('en-US')} acked`),
  }
  const load = system.runLoad !== undefined ? await system.runLoad(workload, options) : await runLoad(system, workload, options)
  const drainStart = performance.now()
  const backlog = (await system.backlog?.()) ?? Number.NaN
  drainCpu.begin()
  await withTimeout(system.drain(), job.drainTimeoutMs, 'drain')
  drainCpu.end()
  return { load, drainMs: performance.now() - drainStart, backlog, cpu: { load: loadCpu.result(), drain: drainCpu.result() } }
}

function toResult(
  load: LoadResult,
  m: {
    drainMs: number
    peakRssMb: number
    counted: { statements: number; rows: number }
    pgStatRows: number
    verify: Awaited<ReturnType<typeof verifyFinalState>>
  },
): RunResult {
  const lat = latencySummary(load.latencies)
  const rows = m.counted.rows > 0 ? m.counted.rows : m.pgStatRows
  const failures = load.failed > 0 ? `; ${load.failed} writes failed (${load.firstError})` : ''
  return {
    system: job.system,
    workload: job.workload,
    run: job.run,
    acked: load.acked,
    failed: load.failed,
    keys: load.lastAcked.size,
    loadMs: load.elapsedMs,
    writesPerSec: load.acked / (load.elapsedMs / 1000),
    p50Ms: lat.p50,
    p99Ms: lat.p99,
    p999Ms: lat.p999,
    dbStatements: m.counted.statements,
    dbRows: m.counted.rows,
    pgStatRows: m.pgStatRows,
    coalescing: rows > 0 ? load.acked / rows : Number.NaN,
    drainMs: m.drainMs,
    peakRssMb: m.peakRssMb,
    correct: m.verify.ok && load.failed === 0,
    verifyNote: `${m.verify.keys} keys checked, ${m.verify.mismatches} mismatches, ${m.verify.unexpected} unexpected${failures}`,
  }
}

function failed(error: unknown): RunResult {
  log(`FAILED: ${error instanceof Error ? error.message : String(error)}`)
  return failedRun(job, error)
}

/** The pg-ceiling probe (bench/ceiling.ts): its "writes/s" is rows committed per second. */
async function measureProbe(admin: pg.Pool): Promise<RunResult> {
  log(`batched upserts for ${job.durationMs} ms`)
  const meter = await cpuMeter(admin)
  const { info, load, counted, tuplesBefore } = await measureCeiling(jobWorkload(), job.durationMs, admin, meter)
  const pgStatRows = (await settledTuplesWritten(admin, info.table, tuplesBefore + counted.rows)) - tuplesBefore
  const verify = await verifyFinalState(admin, info, load.lastAcked, load.failedKeys)
  const result = toResult(load, { drainMs: 0, peakRssMb: process.resourceUsage().maxRSS / 1024, counted, pgStatRows, verify })
  return { ...result, writesPerSec: counted.rows / (load.elapsedMs / 1000), cpu: { load: meter.result() } }
}

/** The redis-script-limit probe (bench/redis-limit.ts): writes/s and ack latency of the bare write script; nothing reaches PostgreSQL. */
async function measureLimit(processes: number, admin: pg.Pool): Promise<RunResult> {
  log(`write script alone for ${job.durationMs} ms with ${job.writers} callers in ${processes} process(es)`)
  const meter = await cpuMeter(admin)
  const options = { arrival: job.arrival ?? 'immediate', durationMs: job.durationMs, writers: job.writers, maxWrites: job.maxWrites, window: meter } as const
  const load = await measureScriptLimit(jobWorkload(), options, processes)
  const verify = { ok: true, keys: 0, mismatches: 0, unexpected: 0, examples: [] }
  return { ...toResult(load, { drainMs: 0, peakRssMb: process.resourceUsage().maxRSS / 1024, counted: { statements: 0, rows: 0 }, pgStatRows: 0, verify }), cpu: { load: meter.result() } }
}

/** One system, torn down even when the measurement fails. */
async function measureSystem(admin: pg.Pool): Promise<RunResult> {
  const factory = SYSTEMS.get(job.system)
  if (factory === undefined) throw new Error(`unknown system ${job.system}`)
  const system = factory()
  // The tier's systems start their own servers; the peers get one here when asked, set up like the tier's.
  const own = job.ownRedis === true && !job.system.startsWith('writebehind-redis-') ? await startBenchRedis() : undefined
  if (own !== undefined) process.env.WB_REDIS_URL = own.url
  let teardownDone: Promise<void> | undefined
  const teardown = (): Promise<void> => (teardownDone ??= system.teardown().finally(() => own?.stop()))
  try {
    return await measure(system, teardown, admin)
  } catch (err) {
    await teardown().catch((e: unknown) => log(`teardown failed: ${String(e)}`))
    throw err
  }
}

async function main(): Promise<void> {
  const admin = openPool(1)
  let result: RunResult
  try {
    result =
      job.system === CEILING
        ? await measureProbe(admin)
        : job.system === SCRIPT_LIMIT
          ? await measureLimit(1, admin)
          : job.system === SCRIPT_LIMIT_4
            ? await measureLimit(4, admin)
            : await measureSystem(admin)
  } catch (err) {
    result = failed(err)
  } finally {
    await admin.end()
  }
  await writeFile(job.out, JSON.stringify(result))
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
