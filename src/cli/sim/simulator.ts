/**
 * The failure simulator behind the dashboard: one run at a time (run.ts), a queue for the
 * side-by-side comparison (the same crash at memory, log and disk), and the table of results.
 * Everything it does is published to subscribers as events: a sample per stats snapshot, and the
 * whole state whenever it changes. Each run gets its own dir under the work dir (removed by
 * `close()` when the simulator made it).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Durability } from '../../contracts/options.js'
import type { Sample } from '../dashboard/sample.js'
import type { SimSettings, StoreFaults } from './protocol.js'
import { dropSimTable } from './sim-store.js'
import { Run, type RunPhase, type RunResult, type StoreFault } from './run.js'

/** A crash the simulator injects by itself, `afterMs` after the writers start. */
export interface CrashPlan {
  readonly crash: 'kill' | 'power'
  readonly afterMs: number
}

export interface SimulatorOptions {
  /** Parent of the run dirs. @default a fresh dir under the OS temp dir, removed by `close()` */
  readonly workDir?: string
  /** PostgreSQL URL for runs with store `postgres`. @default none (PostgreSQL runs are refused) */
  readonly pgUrl?: string
  /** Stats snapshot period of the workload. @default 250 */
  readonly statsEveryMs?: number
}

export interface RunView {
  readonly id: number
  readonly settings: SimSettings
  readonly phase: RunPhase
  readonly faults: StoreFaults
  readonly acked: number
  readonly plan: CrashPlan | undefined
}

export interface SimState {
  readonly run: RunView | undefined
  readonly queued: number
  readonly results: readonly RunResult[]
  readonly postgres: boolean
}

export type SimEvent = { readonly type: 'sample'; readonly run: number; readonly acked: number; readonly sample: Sample } | { readonly type: 'state'; readonly state: SimState }

export type Injectable = 'kill' | 'power' | 'stop' | StoreFault

const KEPT_RESULTS = 50
const COMPARED: readonly Durability[] = ['memory', 'log', 'disk']

export class Simulator {
  private readonly listeners = new Set<(event: SimEvent) => void>()
  private readonly workDir: string
  private readonly ownsWorkDir: boolean
  private readonly results: RunResult[] = []
  private queue: Array<{ settings: SimSettings; plan: CrashPlan | undefined }> = []
  private current: { run: Run; plan: CrashPlan | undefined; timer: NodeJS.Timeout | undefined } | undefined
  private nextId = 1
  private readonly pgTables: string[] = []
  private closed = false

  constructor(private readonly options: SimulatorOptions = {}) {
    this.ownsWorkDir = options.workDir === undefined
    this.workDir = options.workDir ?? mkdtempSync(join(tmpdir(), 'writebehind-dashboard-'))
  }

  /** Calls `listener` with every event until the returned function is called. */
  subscribe(listener: (event: SimEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  state(): SimState {
    const current = this.current
    const run =
      current === undefined ? undefined : { id: current.run.id, settings: current.run.settings, phase: current.run.phase, faults: current.run.faults, acked: current.run.acked, plan: current.plan }
    return { run, queued: this.queue.length, results: [...this.results], postgres: this.options.pgUrl !== undefined }
  }

  /** Starts a run, or queues it behind the one going. With `plan`, the run crashes itself. */
  start(settings: SimSettings, plan?: CrashPlan): void {
    if (settings.store === 'postgres' && this.options.pgUrl === undefined) throw new Error('no PostgreSQL configured: start the dashboard with --pg <url>')
    this.queue.push({ settings, plan })
    this.next()
  }

  /** Queues the same workload and crash at memory, log and disk: the trade-off side by side. */
  compare(settings: SimSettings, plan: CrashPlan): void {
    for (const durability of COMPARED) this.start({ ...settings, durability }, plan)
  }

  /** Injects a fault in the run that is writing; false when none is. */
  inject(fault: Injectable): boolean {
    const run = this.current?.run
    if (run === undefined || run.phase !== 'writing') return false
    if (fault === 'kill' || fault === 'power') void run.end(fault)
    else if (fault === 'stop') void run.end('none')
    else run.toggle(fault)
    return true
  }

  /** Kills the run going, drops the queue, removes the work dir it made and the PostgreSQL tables of its runs. */
  async close(): Promise<void> {
    this.closed = true
    this.queue = []
    const current = this.current
    if (current !== undefined) {
      clearTimeout(current.timer)
      await current.run.end('kill').catch(() => {})
    }
    if (this.ownsWorkDir) rmSync(this.workDir, { recursive: true, force: true })
    const pgUrl = this.options.pgUrl
    if (pgUrl !== undefined) await Promise.all(this.pgTables.map((table) => dropSimTable(table, pgUrl).catch(() => {})))
  }

  private next(): void {
    if (this.current !== undefined || this.closed) return this.changed()
    const item = this.queue.shift()
    if (item === undefined) return this.changed()
    const id = this.nextId++
    const root = join(this.workDir, `run-${id}`)
    mkdirSync(root, { recursive: true })
    const files = {
      dir: item.settings.durability === 'memory' ? undefined : join(root, 'log'),
      db: item.settings.store === 'postgres' ? `writebehind_sim_${process.pid}_${id}` : join(root, 'store.db'),
      pgUrl: this.options.pgUrl,
      ledger: join(root, 'acks.bin'),
    }
    if (item.settings.store === 'postgres') this.pgTables.push(files.db)
    const run = new Run(
      id,
      item.settings,
      files,
      { sample: (sample) => this.emit({ type: 'sample', run: id, acked: run.acked, sample }), changed: () => this.changed(), ended: (result) => this.ended(result) },
      this.options.statsEveryMs ?? 250,
    )
    const current = { run, plan: item.plan, timer: undefined as NodeJS.Timeout | undefined }
    this.current = current
    this.changed()
    run.start().then(
      () => {
        if (item.plan !== undefined) current.timer = setTimeout(() => void run.end(item.plan?.crash ?? 'kill'), item.plan.afterMs)
      },
      (error: unknown) => run.abort(error),
    )
  }

  private ended(result: RunResult): void {
    clearTimeout(this.current?.timer)
    this.current = undefined
    this.results.push(result)
    if (this.results.length > KEPT_RESULTS) this.results.shift()
    this.next()
  }

  private changed(): void {
    this.emit({ type: 'state', state: this.state() })
  }

  private emit(event: SimEvent): void {
    for (const listener of this.listeners) listener(event)
  }
}
