/**
 * A fleet of app processes for a system measured with more than one process (the Redis tier's
 * `-4` systems and the peers' `redis-handrolled-4` / `bullmq-4`): N children run bench/redis-app.ts,
 * each a full instance of the system (its writers and its flushing: a cache, drainer loops, a
 * BullMQ worker) on the same Redis and table as the measuring process, with W/N of the writers and
 * its own key space (`a<i>:` before the workload's keys, so that the final-state check stays
 * exact). Protocol on each child's stdio: it says `ready` once open, starts on `go`, writes what it
 * acknowledged to its result file and says `loaded`; on `close` it drains with the others (its own
 * flushing goes on), closes, writes its PostgreSQL counters and exits. So the load ends when every
 * child's load ended, and the harness's drain (`close()` beside the measuring process's own drain)
 * lasts until every process finished flushing.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process'
import type { Readable, Writable } from 'node:stream'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LoadOptions, LoadResult } from '../driver.js'
import type { BenchValue } from '../systems/types.js'
import type { Workload } from '../workloads.js'
import type { WriteCounters } from './pg.js'

/** What an app process hands back once its load ended (as JSON in its result file). */
export interface AppResult {
  acked: number
  failed: number
  elapsedMs: number
  latencies: number[]
  lastAcked: [string, BenchValue][]
  failedKeys: string[]
  firstError: string | undefined
}

/** The part of an app's job that names the system and where it lives; bench/redis-app.ts reads it. */
export type AppSystem =
  | { readonly kind: 'writebehind'; readonly target: import('../systems/writebehind-redis.js').RedisTarget; readonly level: import('../systems/writebehind-redis.js').RedisLevel }
  | { readonly kind: 'redis-handrolled'; readonly prefix: string }
  | { readonly kind: 'bullmq'; readonly queueName: string }
  | { readonly kind: 'script-limit'; readonly url: string }

/** One app process's whole job. */
export interface AppJob {
  system: AppSystem
  table: string
  workload: string
  index: number
  writers: number
  firstWriter: number
  durationMs: number
  maxWrites: number
  arrival: NonNullable<LoadOptions['arrival']>
  /** Where the load's result goes; its PostgreSQL counters go to `${out}.counters` at exit. */
  out: string
}

interface Child {
  readonly out: string
  readonly process: ChildProcessByStdio<Writable, Readable, null>
  readonly exited: Promise<void>
}

export class AppFleet {
  private children: Child[] = []
  private scratch: string | undefined
  /** Statements and rows the children sent to PostgreSQL, known once they exited. */
  readonly counters: WriteCounters = { statements: 0, rows: 0 }

  constructor(
    private readonly processes: number,
    private readonly system: AppSystem,
    private readonly table: string,
  ) {}

  /** Starts the children, lets them all write at once, and merges what they acknowledged. They keep running (flushing) until `close()`. */
  async run(workload: Workload, options: LoadOptions): Promise<LoadResult> {
    const scratch = (this.scratch = await mkdtemp(join(tmpdir(), 'wbbench-apps-')))
    const n = this.processes
    const share = Math.ceil(options.writers / n)
    this.children = Array.from({ length: n }, (_, index) => {
      const out = join(scratch, `${index}.json`)
      const job: AppJob = {
        system: this.system,
        table: this.table,
        workload: workload.name,
        index,
        writers: share,
        firstWriter: index * share,
        durationMs: options.durationMs,
        maxWrites: Math.ceil(options.maxWrites / n),
        arrival: options.arrival ?? 'immediate',
        out,
      }
      const child = spawn(process.execPath, ['--import', 'tsx', 'bench/redis-app.ts', JSON.stringify(job)], { stdio: ['pipe', 'pipe', 'inherit'] })
      const exited = new Promise<void>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`app process ${index} exited with code ${code}`)))))
      exited.catch(() => {}) // awaited in close(); a child that dies early also fails `said`
      return { out, process: child, exited }
    })
    await Promise.all(this.children.map((c) => said(c, 'ready')))
    try {
      options.window?.begin()
    } catch (err) {
      // The children wait for `go` and would never hear `close`.
      for (const c of this.children) c.process.kill('SIGKILL')
      throw err
    }
    for (const c of this.children) c.process.stdin.write('go\n')
    await Promise.all(this.children.map((c) => said(c, 'loaded')))
    options.window?.end()
    const results = await Promise.all(this.children.map(async (c) => JSON.parse(await readFile(c.out, 'utf8')) as AppResult))
    return merge(results)
  }

  /** Tells every child to drain and close; resolves once all exited, with their counters added. */
  async close(): Promise<void> {
    const children = this.children
    this.children = []
    try {
      for (const c of children) c.process.stdin.end('close\n')
      await Promise.all(children.map((c) => c.exited))
      for (const c of children) {
        const counted = JSON.parse(await readFile(`${c.out}.counters`, 'utf8')) as WriteCounters
        this.counters.statements += counted.statements
        this.counters.rows += counted.rows
      }
    } finally {
      for (const c of children) if (c.process.exitCode === null) c.process.kill('SIGKILL')
      if (this.scratch !== undefined) await rm(this.scratch, { recursive: true, force: true })
      this.scratch = undefined
    }
  }
}

/** Resolves once `child` printed `word` on a line of its own; rejects if it exits first. */
function said(child: Child, word: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let seen = ''
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString()
      if (seen.split('\n').includes(word)) {
        child.process.stdout.off('data', onData)
        resolve()
      }
    }
    child.process.stdout.on('data', onData)
    child.exited.then(
      () => reject(new Error(`an app process exited before it said ${word}`)),
      (error: unknown) => reject(error instanceof Error ? error : new Error(String(error))),
    )
  })
}

function merge(results: AppResult[]): LoadResult {
  return {
    acked: results.reduce((sum, r) => sum + r.acked, 0),
    failed: results.reduce((sum, r) => sum + r.failed, 0),
    elapsedMs: Math.max(...results.map((r) => r.elapsedMs)),
    latencies: Float64Array.from(results.flatMap((r) => r.latencies)),
    lastAcked: new Map(results.flatMap((r) => r.lastAcked)),
    counts: new Map(),
    failedKeys: new Set(results.flatMap((r) => r.failedKeys)),
    firstError: results.find((r) => r.firstError !== undefined)?.firstError,
  }
}
