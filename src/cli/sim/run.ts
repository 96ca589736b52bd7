/**
 * One simulator run: the workload child writes until a crash is injected (SIGKILL, or a power
 * cut: SIGKILL and the log cut back to its last fsync) or the run is stopped. After a crash the
 * store is checked against the ledger of acknowledged writes (what the crash left), a second
 * child opens the same dir (the log replays) and drains, and the store is checked again: the
 * writes still missing are the loss, exact, since each row holds its write's sequence number.
 * Store faults (stopped, slow, poison) are switched in the child while it writes.
 */
import type { CacheStats } from '../../contracts/stats.js'
import { Sampler, type Sample } from '../dashboard/sample.js'
import { AckLedger } from './ack-ledger.js'
import { forkChild, type WorkloadChild } from './child-process.js'
import { NO_FAULTS } from './faulty-store.js'
import { cutToLastFsync, type FsyncMark } from './power-cut.js'
import { promisedLoss, type CrashKind, type PromisedLoss } from './promise.js'
import type { ChildConfig, ChildMessage, SimSettings, StoreFaults } from './protocol.js'
import { storedSeqs } from './sim-store.js'

export type RunPhase = 'starting' | 'writing' | 'crashed' | 'recovering' | 'done' | 'failed'

/** A store fault switched on or off while the workload writes. */
export type StoreFault = 'store-down' | 'store-slow' | 'poison'

/** Where a run keeps its files. */
export interface RunFiles {
  /** The log dir; undefined at `memory`. */
  readonly dir: string | undefined
  /** SQLite path or PostgreSQL table. */
  readonly db: string
  readonly pgUrl: string | undefined
  /** Where the ledger is saved when the run ends (for an independent check). */
  readonly ledger: string
}

export interface RunResult {
  readonly id: number
  readonly settings: SimSettings
  readonly crash: CrashKind
  /** Store faults switched on during the run. */
  readonly storeFaults: readonly StoreFault[]
  readonly acked: number
  readonly writeSeconds: number
  readonly writesPerSec: number
  readonly p50Ms: number
  readonly p99Ms: number
  /** Acknowledged writes the store lacked right after the crash (before recovery). */
  readonly missingAtCrash: number
  /** Acknowledged writes the store lacks after recovery and drain: the loss. */
  readonly lost: number
  readonly lostKeys: number
  /** Acknowledged writes missing at the crash that recovery put in the store. */
  readonly recovered: number
  /** What the reopened cache replayed from the log. */
  readonly replayed: { readonly records: number; readonly keys: number } | undefined
  /** Kill time minus the report time of the oldest lost write; 0 when nothing was lost. */
  readonly lossWindowMs: number
  readonly promised: PromisedLoss
  /** Log bytes the power cut removed. */
  readonly bytesCut: number
  readonly deadLetters: number
  /** Acknowledged writes not in the store because their key went to the dead-letter queue (not lost: replayable). */
  readonly deadLettered: number
  /** Workload calls that failed (reads while the store was down, refused writes); not acknowledged. */
  readonly failedCalls: number
  readonly ledger: string
  /** The store checked: the SQLite file, or the PostgreSQL table. */
  readonly db: string
  readonly error: string | undefined
}

export interface RunHooks {
  sample(sample: Sample): void
  /** The phase or the faults changed. */
  changed(): void
  ended(result: RunResult): void
}

const SLOW_STORE_MS = 250
const POISON_SHARE = 0.05

export class Run {
  phase: RunPhase = 'starting'
  faults: StoreFaults = NO_FAULTS
  private readonly ledger = new AckLedger()
  private readonly sampler = new Sampler()
  private readonly seen = new Set<StoreFault>()
  private writer: WorkloadChild | undefined
  private lastStats: CacheStats | undefined
  private maxDelayMs = 0
  private fsync: FsyncMark | undefined
  private startedAt = 0
  private endedAt = 0
  private crash: { kind: CrashKind; at: number } | undefined
  private ending: Promise<RunResult> | undefined
  /** Why the workload ended by itself, when it did. */
  private childError: string | undefined
  /** Reads and writes that failed (the workload goes on). */
  private failedCalls = 0
  private readonly deadLetteredKeys = new Set<number>()

  constructor(
    readonly id: number,
    readonly settings: SimSettings,
    private readonly files: RunFiles,
    private readonly hooks: RunHooks,
    private readonly statsEveryMs: number,
  ) {}

  /** Acknowledged writes reported so far. */
  get acked(): number {
    return this.ledger.count
  }

  /** Starts the workload; resolves once it writes. */
  async start(): Promise<void> {
    this.writer = this.fork('write', (message) => this.onWriterMessage(message))
    await this.writer.ready
    this.startedAt = Date.now()
    this.setPhase('writing')
    // A workload that dies by itself (out of memory, a bug) is a crash too: recover and count.
    const writer = this.writer
    void writer.ended.then(({ code, signal }) => {
      if (this.ending !== undefined) return
      this.childError ??= `the workload exited by itself (${signal ?? `code ${code}`}): ${writer.stderr().trim().slice(-500)}`
      void this.end('kill')
    })
  }

  /** Ends a run that could not start: the result carries the error. */
  abort(error: unknown): void {
    this.writer?.kill()
    if (this.ending !== undefined) return
    this.ending = Promise.resolve(this.failed(error))
    void this.ending.then((result) => this.hooks.ended(result))
  }

  private failed(error: unknown): RunResult {
    this.setPhase('failed')
    const message = error instanceof Error ? error.message : String(error)
    return { ...this.result(this.crash?.kind ?? 'none', 0, { lost: 0, lostKeys: 0, deadLettered: 0, oldestLostAt: undefined }, undefined, 0), error: message }
  }

  /**
   * Ends the run once: `kill` or `power` crash the workload and recover, `none` stops the writers
   * and lets the cache drain and close. Resolves with the result (also given to `hooks.ended`).
   */
  end(kind: CrashKind): Promise<RunResult> {
    if (this.ending === undefined) {
      this.ending = this.finish(kind).catch((error: unknown) => this.failed(error))
      void this.ending.then((result) => this.hooks.ended(result))
    }
    return this.ending
  }

  /** Switches a store fault on or off in the running workload. */
  toggle(fault: StoreFault): void {
    const f = this.faults
    if (fault === 'store-down') this.faults = { ...f, down: !f.down }
    if (fault === 'store-slow') this.faults = { ...f, delayMs: f.delayMs > 0 ? 0 : SLOW_STORE_MS }
    if (fault === 'poison') this.faults = { ...f, poisonShare: f.poisonShare > 0 ? 0 : POISON_SHARE }
    this.seen.add(fault)
    this.writer?.send({ type: 'faults', faults: this.faults })
    this.hooks.changed()
  }

  private async finish(kind: CrashKind): Promise<RunResult> {
    const writer = this.writer
    if (writer === undefined) throw new Error('the run has not started')
    this.endedAt = Date.now()
    if (kind === 'none') writer.send({ type: 'stop' })
    else {
      this.crash = { kind, at: this.endedAt }
      writer.kill()
    }
    await writer.ended
    this.endedAt = this.crash?.at ?? Date.now()
    const bytesCut = kind === 'power' && this.files.dir !== undefined ? cutToLastFsync(this.files.dir, this.fsync).bytesCut : 0
    this.faults = NO_FAULTS
    this.setPhase('crashed')
    const atCrash = this.ledger.check(await this.stored(), this.deadLetteredKeys)
    this.setPhase('recovering')
    this.sampler.reset()
    const recoverer = this.fork('recover', (message) => {
      if (message.type === 'dead-letter') this.deadLetteredKeys.add(message.key)
      this.onStats(message)
    })
    const ready = await recoverer.ready
    await recoverer.ended
    const final = this.ledger.check(await this.stored(), this.deadLetteredKeys)
    this.ledger.save(this.files.ledger)
    const result = this.result(kind, atCrash.lost, final, ready.recovered, bytesCut)
    this.setPhase('done')
    return result
  }

  private result(kind: CrashKind, missingAtCrash: number, final: ReturnType<AckLedger['check']>, replayed: RunResult['replayed'], bytesCut: number): RunResult {
    const writeSeconds = Math.max(1e-3, (this.endedAt - this.startedAt) / 1000)
    const ack = this.lastStats?.ack[this.settings.durability]
    return {
      id: this.id,
      settings: this.settings,
      crash: kind,
      storeFaults: [...this.seen],
      acked: this.ledger.count,
      writeSeconds,
      writesPerSec: this.ledger.count / writeSeconds,
      p50Ms: ack?.p50Ms ?? 0,
      p99Ms: ack?.p99Ms ?? 0,
      missingAtCrash,
      lost: final.lost,
      lostKeys: final.lostKeys,
      recovered: missingAtCrash - final.lost,
      replayed,
      lossWindowMs: final.oldestLostAt === undefined ? 0 : Math.max(0, this.endedAt - final.oldestLostAt),
      promised: promisedLoss(this.settings.durability, kind, this.maxDelayMs),
      bytesCut,
      deadLetters: this.lastStats?.deadLetters ?? 0,
      deadLettered: final.deadLettered,
      failedCalls: this.failedCalls,
      ledger: this.files.ledger,
      db: this.files.db,
      error: this.childError,
    }
  }

  private stored(): Promise<Float64Array> {
    return storedSeqs(this.settings.store, this.files.db, this.files.pgUrl, this.settings.keys)
  }

  private fork(mode: ChildConfig['mode'], onMessage: (message: ChildMessage) => void): WorkloadChild {
    const { dir, db, pgUrl } = this.files
    return forkChild({ settings: this.settings, mode, dir, db, pgUrl, statsEveryMs: this.statsEveryMs }, onMessage)
  }

  private onWriterMessage(message: ChildMessage): void {
    if (message.type === 'acks') {
      this.ledger.add(message.keys, message.seqs, message.at)
      this.failedCalls += message.errors
    } else if (message.type === 'failed') this.childError = message.message
    else if (message.type === 'dead-letter') this.deadLetteredKeys.add(message.key)
    else if (message.type === 'fsynced') this.fsync = { segment: message.segment, bytes: message.bytes }
    else if (message.type === 'stats') {
      this.lastStats = message.stats
      this.maxDelayMs = message.limits.maxDelayMs
    }
    this.onStats(message)
  }

  private onStats(message: ChildMessage): void {
    if (message.type === 'stats') this.hooks.sample(this.sampler.next(message.stats, message.at, message.limits))
  }

  private setPhase(phase: RunPhase): void {
    this.phase = phase
    this.hooks.changed()
  }
}
