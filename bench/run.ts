/**
 * The comparative benchmark: `npm run bench` runs every system on every workload and writes
 * bench/RESULTS.md. Each measurement runs in its own child process (bench/run-one.ts).
 *
 *   npm run bench -- --only zipf --systems direct-1,writebehind-log --duration 5s --runs 3
 *
 * Options: --only <workloads>, --systems <names>, --duration <5s|500ms>, --runs <N>,
 * --writers <W>, --max-writes <N>, (--systems redis: the Redis tier's comparison; --systems cluster: standalone
 * Redis against a Redis Cluster), --own-redis, --drain-timeout <120s>, --arrival <immediate|io>, --out <file>; --list prints the
 * systems and workloads.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { CEILING } from './ceiling.js'
import { describeMachine } from './lib/machine.js'
import { renderReport, type ReportContext } from './lib/report.js'
import { failedRun, type Job, type RunResult } from './lib/result.js'
import { SCRIPT_LIMIT, SCRIPT_LIMIT_4 } from './redis-limit.js'
import { BASELINE, CLUSTER_SYSTEMS, DEFAULT_SYSTEMS, REDIS_SYSTEMS, SYSTEMS } from './systems/index.js'
import type { Arrival } from './driver.js'
import { allWorkloads, type Workload } from './workloads.js'

interface Plan {
  list: boolean
  workloads: Workload[]
  systems: string[]
  runs: number
  durationMs: number
  writers: number
  maxWrites: number
  drainTimeoutMs: number
  arrival: Arrival
  ownRedis: boolean
  out: string
}

/** `5s`, `500ms`, `2m` or a bare number of seconds, in milliseconds. */
function duration(text: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text)
  if (match === null) throw new TypeError(`--${option} must look like 5s, 500ms or 2m, got "${text}"`)
  const unit = match[2] === 'ms' ? 1 : match[2] === 'm' ? 60_000 : 1000
  return Number(match[1]) * unit
}

function arrival(text: string): Arrival {
  if (text !== 'immediate' && text !== 'io') throw new TypeError(`--arrival must be immediate or io, got "${text}"`)
  return text
}

function positiveInt(text: string, option: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`--${option} must be a positive integer, got "${text}"`)
  return n
}

function pick<T>(all: readonly T[], names: string | undefined, nameOf: (t: T) => string, option: string): T[] {
  if (names === undefined) return [...all]
  return names.split(',').map((name) => {
    const found = all.find((t) => nameOf(t) === name.trim())
    if (found === undefined) throw new TypeError(`--${option}: unknown "${name}"; known: ${all.map(nameOf).join(', ')}`)
    return found
  })
}

function parsePlan(argv: string[]): Plan {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      systems: { type: 'string' },
      duration: { type: 'string', default: '5s' },
      runs: { type: 'string', default: '1' },
      writers: { type: 'string', default: '64' },
      'max-writes': { type: 'string', default: '3000000' },
      'drain-timeout': { type: 'string', default: '120s' },
      out: { type: 'string', default: 'bench/RESULTS.md' },
      list: { type: 'boolean', default: false },
      arrival: { type: 'string', default: 'immediate' },
      'own-redis': { type: 'boolean', default: false },
    },
  })

  const systems =
    values.systems === undefined
      ? [...DEFAULT_SYSTEMS, CEILING]
      : values.systems === 'redis'
        ? [...REDIS_SYSTEMS]
        : values.systems === 'cluster'
          ? [...CLUSTER_SYSTEMS]
          : pick([...SYSTEMS.keys(), CEILING, SCRIPT_LIMIT, SCRIPT_LIMIT_4], values.systems, (s) => s, 'systems')
  return {
    list: values.list,
    workloads: pick(allWorkloads(), values.only, (w) => w.name, 'only'),
    // The baseline always runs, first, so every ratio has its denominator from the same run.
    systems: systems.includes(BASELINE) ? systems : [BASELINE, ...systems],
    runs: positiveInt(values.runs, 'runs'),
    durationMs: duration(values.duration, 'duration'),
    writers: positiveInt(values.writers, 'writers'),
    maxWrites: positiveInt(values['max-writes'], 'max-writes'),
    drainTimeoutMs: duration(values['drain-timeout'], 'drain-timeout'),
    arrival: arrival(values.arrival),
    out: values.out,
    // The tier's comparison runs its Redis peers on servers set up like the tier's (AOF on), not on the shared one.
    ownRedis: values['own-redis'] || values.systems === 'redis',
  }
}

function runChild(job: Job): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run-one.ts', JSON.stringify(job)], {
      stdio: ['ignore', 'inherit', 'inherit'],
    })
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`child exited with code ${code}`))))
  })
}

async function measure(job: Job): Promise<RunResult> {
  try {
    await runChild(job)
    return JSON.parse(await readFile(job.out, 'utf8')) as RunResult
  } catch (err) {
    return failedRun(job, err)
  }
}

function describe(r: RunResult): string {
  if (r.error !== undefined) return `ERROR ${r.error}`
  const rate = Math.round(r.writesPerSec).toLocaleString('en-US')
  const p99 = Number.isFinite(r.p99Ms) ? `${r.p99Ms.toFixed(3)} ms` : '—'
  return `${rate} writes/s, p99 ${p99}, ${r.dbRows.toLocaleString('en-US')} rows, drain ${(r.drainMs / 1000).toFixed(2)} s, ${r.correct ? 'state ok' : `STATE MISMATCH (${r.verifyNote})`}`
}

/** Runs every measurement of the plan in order, rewriting the report after each round of runs. */
async function runAll(plan: Plan, ctx: Omit<ReportContext, 'date'>, scratch: string): Promise<RunResult[]> {
  const total = plan.runs * plan.workloads.length * plan.systems.length
  const results: RunResult[] = []
  for (let run = 1; run <= plan.runs; run++) {
    for (const workload of plan.workloads) {
      for (const system of plan.systems) {
        const n = results.length + 1
        console.log(`[${n}/${total}] ${system} / ${workload.name} / run ${run}`)
        const { durationMs, writers, maxWrites, drainTimeoutMs, arrival, ownRedis } = plan
        const out = join(scratch, `${n}.json`)
        const result = await measure({ system, workload: workload.name, run, durationMs, writers, maxWrites, drainTimeoutMs, arrival, ownRedis, out })
        results.push(result)
        console.log(`  → ${describe(result)}`)
      }
    }
    // Rewritten after every run so an interrupted benchmark still leaves its results.
    await writeFile(plan.out, renderReport({ ...ctx, date: new Date().toISOString() }, results))
  }
  return results
}

function list(): void {
  const optIn = [...SYSTEMS.keys()].filter((s) => !DEFAULT_SYSTEMS.includes(s))
  console.log(`systems: ${[...SYSTEMS.keys()].join(', ')} (default: all but ${optIn.join(', ')})`)
  console.log(`probe ${CEILING} (runs by default): PostgreSQL's rows/s for fenced 500-row upserts back to back, no cache`)
  console.log(`probe ${SCRIPT_LIMIT} (opt-in): the Redis tier's write script called by the writers directly, no cache, on a Redis of its own`)
  console.log(`probe ${SCRIPT_LIMIT_4} (opt-in): the same with the writers in 4 app processes`)
  console.log(`--systems redis: ${REDIS_SYSTEMS.join(', ')} (and direct-1), the Redis tier's comparison`)
  console.log(`--systems cluster: ${CLUSTER_SYSTEMS.join(', ')} (and direct-1), standalone Redis against a Redis Cluster`)
  for (const w of allWorkloads()) console.log(`workload ${w.name}: ${w.description}`)
}

async function main(): Promise<void> {
  const plan = parsePlan(process.argv.slice(2))
  if (plan.list) return list()
  const total = plan.runs * plan.workloads.length * plan.systems.length
  console.log(`writebehind bench: ${total} measurements of ${plan.durationMs / 1000} s (${plan.systems.join(', ')}; ${plan.workloads.map((w) => w.name).join(', ')}; ${plan.runs} run(s))`)
  const ctx = {
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim().replace(/ --$/, ''),
    machine: await describeMachine(),
    settings: `${plan.writers} concurrent writers (each write starting ${plan.arrival === 'io' ? "from its loopback socket's 'data' callback, in the poll phase" : 'from setImmediate, in the check phase'}), ${plan.durationMs / 1000} s of load per measurement, at most ${plan.maxWrites.toLocaleString('en-US')} writes, ${plan.runs} run(s), each measurement in a fresh process.`,
    workloads: plan.workloads,
    systems: plan.systems,
    baseline: BASELINE,
  }
  const scratch = await mkdtemp(join(tmpdir(), 'wbbench-results-'))
  let results: RunResult[]
  try {
    results = await runAll(plan, ctx, scratch)
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
  console.log(`wrote ${plan.out}`)
  const bad = results.filter((r) => !r.correct)
  if (bad.length > 0) {
    console.error(`FAILED: ${bad.length} measurement(s) errored or left the database different from the last acknowledged values:`)
    for (const r of bad) console.error(`  ${r.system} / ${r.workload} / run ${r.run}: ${r.verifyNote}`)
    process.exitCode = 1
  }
}

await main()
