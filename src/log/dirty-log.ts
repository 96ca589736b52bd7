/**
 * The durable dirty log: every write the cache acknowledges at durability `log` or `disk` is
 * appended here before its promise resolves, and replayed by `open()` after a crash.
 *
 * Group commit. `append` only encodes into the active segment's buffer; a buffer past
 * `writeThresholdBytes` is written at once. The first `written()` caller of a callback schedules
 * one fs write (see below), which every `written()` caller until then shares; appends nobody
 * waits on are written once per event-loop turn (setImmediate). `synced()` callers share one
 * fdatasync round; while a round runs, new callers queue for the next one, which starts as soon
 * as it ends (classic group commit). fsync is async, so the event loop keeps serving while the disk works.
 *
 * The write is scheduled in a microtask, not with setImmediate: a sequential `append + await
 * written()` writer then pays no event-loop turn per record, and concurrent writers group just as
 * well (their continuations all run before the scheduled microtask). bench/log.bench.ts runs both
 * schedulings side by side.
 * Writes use a raw fd and `writeSync` (see segment-writer.ts); fdatasync is the async form, which
 * keeps the loop free and costs one writer no more than a blocking fdatasyncSync loop (the same
 * benchmark compares the two).
 *
 * Merge records (`increment`, `max`, `min`) need format-2 segments (record.ts), which older releases
 * refuse as a newer format rather than reading them wrong: segments start in format 1 and the
 * first merge record switches to format 2 for the rest of the session (rewriting a header that is
 * still buffered, else by rolling to a new segment once).
 *
 * Failure is sticky: after a write or fsync error every pending and later promise rejects with
 * `LogFailedError` (retrying an fsync after EIO can report success for lost pages). The `failed`
 * event names the highest version whose record reached the OS: the records above it are lost (a
 * failed write(2) is cut back off the file, so recovery does not bring them back either).
 */
import { fdatasync, fsync, fsyncSync, openSync, closeSync } from 'node:fs'
import type { TimerHandle } from '../contracts/clock.js'
import { CacheClosedError, DirectoryLockedError, LogFailedError } from '../errors.js'
import { toError } from '../to-error.js'
import { invalid } from '../validate/check.js'
import { deleteSegments, readCheckpoint, removeCheckpointLeftovers, writeCheckpoint, type Checkpoint } from './checkpoint.js'
import { acquireLock, watchLock, type DirLock } from './lock.js'
import { prepareLogDir } from './log-dir.js'
import { checkRecord, resolveLogOptions, type ResolvedLogOptions } from './log-options.js'
import { FORMAT_VERSION, MERGE_FORMAT_VERSION, needsMergeFormat } from './record.js'
import { recover, type SegmentInfo } from './recovery.js'
import { deferred, type Deferred } from './deferred.js'
import { SegmentWriter } from './segment-writer.js'
import { WriteScheduler } from './write-scheduler.js'
import type { DirtyLogOptions, LogRecord, LogStats, Recovered } from './types.js'

const RESOLVED = Promise.resolve()

export class DirtyLog {
  private state: 'open' | 'closing' | 'closed' = 'open'
  private failure: LogFailedError | undefined
  private closed: SegmentInfo[]
  private retired: SegmentWriter[] = []
  /** Logical byte positions across all segments since open: appended ≥ written ≥ synced. */
  private appendedPos = 0
  private writtenPos = 0
  private syncedPos = 0
  private activeStartPos = 0
  private highest: number
  /** Highest version whose record reached the OS (a failed write(2) loses those above it). */
  private writtenHighest: number
  private checkpointed: Checkpoint
  private readonly writes: WriteScheduler
  private writeWaiter: Deferred | undefined
  private syncWaiter: Deferred | undefined
  private inFlight: { readonly target: number; readonly waiter: Deferred } | undefined
  private dirDirty = true
  private timer: TimerHandle | undefined
  private readonly stopLockWatch: () => void
  private counts = { appendedRecords: 0, writes: 0, fsyncs: 0 }
  private checkpointChain: Promise<void> = RESOLVED
  private closing: Promise<void> | undefined
  /** The format of new segments: 2 once a merge record was appended. */
  private format = FORMAT_VERSION

  private constructor(
    private readonly options: ResolvedLogOptions,
    private active: SegmentWriter,
    private readonly dirFd: number,
    private readonly lock: DirLock,
    segments: SegmentInfo[],
    recovered: Recovered,
    checkpoint: Checkpoint,
  ) {
    this.closed = segments
    this.highest = recovered.highestVersion
    this.writtenHighest = recovered.highestVersion
    this.checkpointed = checkpoint
    this.appendedPos = active.bufferedBytes
    this.writes = new WriteScheduler(options.writeScheduling, this.runWrite, this.runBackgroundWrite)
    this.armTimer()
    this.stopLockWatch = watchLock(() => this.checkLock())
  }

  /**
   * Opens (creating if needed) the log in `options.dir`: takes the directory lock, recovers what
   * is on disk and starts a new segment for appends. Throws `DirectoryLockedError`,
   * `LogCorruptionError` (strict recovery), `LogFormatError`, or a `TypeError` for a bad option.
   */
  static async open(options: DirtyLogOptions): Promise<{ log: DirtyLog; recovered: Recovered }> {
    const resolved = resolveLogOptions(options)
    const { dir } = resolved
    prepareLogDir(dir, resolved.warn)
    const lock = await acquireLock(dir)
    let dirFd: number | undefined
    try {
      removeCheckpointLeftovers(dir)
      const checkpoint = readCheckpoint(dir)
      const result = await recover(dir, checkpoint, resolved.recovery, resolved.emit)
      dirFd = openSync(dir, 'r')
      const last = result.segments.at(-1)
      const active = last === undefined ? SegmentWriter.create(dir, result.lastSeq + 1, 0) : SegmentWriter.create(dir, last.seq + 1, last.bytes)
      const log = new DirtyLog(resolved, active, dirFd, lock, result.segments, result.recovered, result.checkpoint)
      return { log, recovered: result.recovered }
    } catch (error) {
      if (dirFd !== undefined) closeSync(dirFd)
      lock.release()
      throw error
    }
  }

  /**
   * Appends a record to the buffer. SYNCHRONOUS; the fs write follows within the turn. Versions
   * must increase from call to call. Throws `TypeError` for a bad record, `CacheClosedError` after
   * `close()`, `LogFailedError` after an I/O failure.
   */
  append(record: LogRecord): void {
    if (this.state !== 'open' || this.failure !== undefined) throw this.failure ?? new CacheClosedError('append to the dirty log')
    checkRecord(record, this.highest)
    if (this.format !== MERGE_FORMAT_VERSION && needsMergeFormat(record)) this.useMergeFormat()
    if (this.active.records > 0 && this.active.bytes >= this.options.segmentBytes) this.roll()
    this.appendedPos += this.active.append(record)
    this.highest = record.version
    this.counts.appendedRecords++
    // fail() returns the failure writeBuffered() already recorded
    if (this.active.bufferedBytes >= this.options.writeThresholdBytes && !this.writeBuffered()) throw this.fail(undefined)
    this.writes.requestInBackground()
  }

  /** The highest version whose record reached the OS; records above it are still in the buffer. */
  get writtenVersion(): number {
    return this.writtenHighest
  }

  /**
   * Hands what is buffered to the OS now (synchronously); a failure puts the log in its failed
   * state (and emits `failed`) before this returns. The cache calls it before a batch is taken,
   * so no write reaches the store ahead of its log record.
   */
  writePending(): void {
    if (this.state !== 'closed' && this.writtenPos < this.appendedPos) this.writeBuffered()
  }

  /** Resolves once every record appended before the call is written to the OS (survives a process crash). */
  written(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    if (this.writtenPos >= this.appendedPos) return RESOLVED
    this.writeWaiter ??= deferred()
    this.writes.request()
    return this.writeWaiter.promise
  }

  /** Resolves once every record appended before the call is fdatasynced (survives a power loss). */
  synced(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    if (this.syncedPos >= this.appendedPos && !this.dirDirty) return RESOLVED
    if (this.inFlight !== undefined && this.inFlight.target >= this.appendedPos) return this.inFlight.waiter.promise
    this.syncWaiter ??= deferred()
    this.writes.request()
    return this.syncWaiter.promise
  }

  /**
   * Records that every version ≤ `lowWater` is flushed or superseded, durably, then deletes every
   * whole segment (never the active one) whose highest version is ≤ it. Marks only move up: a
   * lower `lowWater` than before is ignored, and `highWater` is raised to the highest version
   * appended. Calls run one at a time, in call order; `close()` waits for them, and a call after
   * `close()` began rejects with `CacheClosedError`.
   */
  checkpoint(lowWater: number, highWater: number): Promise<void> {
    if (!Number.isSafeInteger(lowWater) || lowWater < 0) return Promise.reject(invalid('lowWater', 'a whole number >= 0', lowWater))
    if (!Number.isSafeInteger(highWater) || highWater < 0) return Promise.reject(invalid('highWater', 'a whole number >= 0', highWater))
    if (this.state !== 'open') return Promise.reject(new CacheClosedError('checkpoint the dirty log'))
    const run = () => this.runCheckpoint(lowWater, highWater)
    const result = this.checkpointChain.then(run, run)
    this.checkpointChain = result.catch(() => {})
    return result
  }

  /** Writes and fsyncs what is buffered, closes files and releases the lock. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.runClose()
    return this.closing
  }

  /** Counters and sizes; `syncedOffsets` is what a power loss now would keep of each segment. */
  stats(): LogStats {
    const activeSynced = Math.max(0, Math.min(this.syncedPos - this.activeStartPos, this.active.bytes))
    const syncedOffsets: Record<string, number> = {}
    for (const segment of this.closed) syncedOffsets[segment.name] = segment.bytes
    syncedOffsets[this.active.name] = activeSynced
    const bytes = this.closed.reduce((sum, s) => sum + s.bytes, this.active.bytes)
    const { appendedRecords, writes, fsyncs } = this.counts
    const segments = this.closed.length + 1
    return { segments, bytes, appendedRecords, writes, fsyncs, activeSegment: this.active.name, lastSyncedOffset: activeSynced, syncedOffsets, highestVersion: this.highest }
  }

  /** A requested write: for `written()` callers, then a sync round if `synced()` callers wait. */
  private readonly runWrite = (): void => {
    this.writeBuffered()
    if (this.syncWaiter !== undefined && this.inFlight === undefined) this.startSync()
  }

  private readonly runBackgroundWrite = (): void => {
    if (this.state !== 'closed') this.writeBuffered()
  }

  /** Hands the buffer to the OS and resolves `written()` callers; false if the log has failed. */
  private writeBuffered(): boolean {
    if (this.failure !== undefined) return false
    try {
      if (this.active.writeOut()) this.counts.writes++
    } catch (error) {
      this.fail(error)
      return false
    }
    this.writtenPos = this.appendedPos
    this.writtenHighest = this.highest
    const waiter = this.writeWaiter
    this.writeWaiter = undefined
    waiter?.resolve()
    return true
  }

  /** Starts an fdatasync round for everything written so far (and the directory if a file was created). */
  private startSync(): void {
    if (this.state === 'closed' || !this.writeBuffered()) return
    const waiter = this.syncWaiter ?? deferred(true)
    this.syncWaiter = undefined
    const target = this.writtenPos
    this.inFlight = { target, waiter }
    const started = performance.now()
    const syncDir = this.dirDirty
    this.dirDirty = false
    let pending = syncDir ? 2 : 1
    let firstError: Error | null = null
    const done = (error: Error | null): void => {
      firstError ??= error
      if (--pending === 0) this.syncDone(firstError, target, waiter, performance.now() - started)
    }
    fdatasync(this.active.fd, done)
    if (syncDir) fsync(this.dirFd, done)
  }

  private syncDone(error: Error | null, target: number, waiter: Deferred, durationMs: number): void {
    this.inFlight = undefined
    this.counts.fsyncs++
    this.options.onFsync(durationMs)
    if (error !== null) {
      waiter.reject(this.fail(error))
      return
    }
    this.syncedPos = Math.max(this.syncedPos, target)
    waiter.resolve()
    for (const segment of this.retired.splice(0)) closeQuietly(segment)
    if (this.syncWaiter !== undefined) this.startSync()
  }

  /**
   * Closes the active segment durably (blocking: once per `segmentBytes`) and starts the next. The
   * old segment's data and the directory (both names) are fsynced before any waiter resolves. A
   * power loss between the create and the directory fsync can at worst keep an empty new segment
   * without its predecessor's name; recovery removes an empty last segment, so the chain holds.
   */
  private roll(): void {
    const old = this.active
    const started = performance.now()
    try {
      old.writeAndSyncNow()
      this.active = SegmentWriter.create(this.options.dir, old.seq + 1, old.bytes, this.format)
      // The waiters resolved below may have records in `old`, whose name is not durable until the
      // directory is fsynced after its creation (no sync round may have done it yet): do it now.
      fsyncSync(this.dirFd)
    } catch (error) {
      throw this.fail(error)
    }
    this.counts.writes++
    this.counts.fsyncs++
    this.options.onFsync(performance.now() - started)
    this.writtenPos = this.syncedPos = this.appendedPos
    this.writtenHighest = this.highest
    this.writeWaiter?.resolve()
    this.syncWaiter?.resolve()
    this.writeWaiter = this.syncWaiter = undefined
    this.closed.push({ name: old.name, seq: old.seq, bytes: old.bytes, records: old.records, maxVersion: old.maxVersion })
    if (this.inFlight === undefined) closeQuietly(old)
    else this.retired.push(old)
    this.activeStartPos = this.appendedPos
    this.appendedPos += this.active.bufferedBytes
    this.dirDirty = false // the fsync above came after the new segment's creation
    this.writes.noteRoll()
  }

  /** From now on segments are format 2 (they may hold merge records): this one too, or the next. */
  private useMergeFormat(): void {
    this.format = MERGE_FORMAT_VERSION
    if (!this.active.upgradeInBuffer()) this.roll()
  }

  /** Enters the failed state (once) and returns the failure every later call reports. */
  private fail(error: unknown): LogFailedError {
    if (this.failure !== undefined) return this.failure
    this.failure = new LogFailedError(error)
    this.writeWaiter?.reject(this.failure)
    this.syncWaiter?.reject(this.failure)
    this.writeWaiter = this.syncWaiter = undefined
    this.clearTimer()
    this.options.emit({ type: 'failed', error: this.failure, writtenVersion: this.writtenHighest })
    return this.failure
  }

  private armTimer(): void {
    const ms = this.options.syncIntervalMs
    if (ms === undefined || this.state !== 'open' || this.failure !== undefined) return
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined
      if (this.inFlight === undefined && this.syncedPos < this.appendedPos) this.startSync()
      this.armTimer()
    }, ms)
    this.timer.unref?.()
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer)
    this.timer = undefined
    this.stopLockWatch()
  }

  /**
   * Writes a deleted `LOCK` file again; if another process's pid is in it (no kernel lock, or a
   * process in another network namespace), fails the log: two writers would delete each other's
   * segments, so this one stops before it deletes anything.
   */
  private checkLock(): void {
    const found = this.lock.check()
    if (found.state === 'taken') throw this.fail(new DirectoryLockedError(this.options.dir, found.pid))
  }

  private async runCheckpoint(lowWater: number, highWater: number): Promise<void> {
    const low = Math.max(this.checkpointed.lowWater, lowWater)
    const high = Math.max(this.checkpointed.highWater, highWater, this.highest, low)
    this.checkLock()
    // Only a leading run: deleting from the middle would break the segment chain.
    const keepFrom = this.closed.findIndex((segment) => segment.maxVersion > low)
    // Counted now: a roll during the write below appends to `closed` a segment that must stay.
    const doomedCount = keepFrom === -1 ? this.closed.length : keepFrom
    // The chain's anchor: the first segment left once the doomed ones are deleted.
    const firstSegment = (keepFrom === -1 ? this.active : this.closed[keepFrom]!).seq
    const next = { lowWater: low, highWater: high, firstSegment }
    await writeCheckpoint(this.options.dir, next)
    this.checkpointed = next
    const doomed = this.closed.splice(0, doomedCount)
    await deleteSegments(this.options.dir, doomed, this.options.emit)
  }

  private async runClose(): Promise<void> {
    if (this.state === 'open') this.state = 'closing'
    this.clearTimer()
    const errors: Error[] = []
    try {
      await this.checkpointChain
      while (this.inFlight !== undefined) await this.inFlight.waiter.promise.catch(() => {})
      if (this.failure === undefined && (this.syncedPos < this.appendedPos || this.dirDirty)) {
        const waiter = (this.syncWaiter ??= deferred())
        this.startSync()
        await waiter.promise.catch((error: Error) => errors.push(error))
      }
    } finally {
      this.state = 'closed'
      for (const segment of [...this.retired.splice(0), this.active]) closeQuietly(segment, errors)
      attempt(() => closeSync(this.dirFd), errors)
      this.lock.release() // never throws: a failed close leaves the dir free to reopen
    }
    if (this.failure !== undefined) throw this.failure
    if (errors[0] !== undefined) throw errors[0]
  }
}

function closeQuietly(segment: SegmentWriter, errors?: Error[]): void {
  attempt(() => segment.close(), errors)
}

function attempt(fn: () => void, errors?: Error[]): void {
  try {
    fn()
  } catch (error) {
    errors?.push(toError(error))
  }
}
