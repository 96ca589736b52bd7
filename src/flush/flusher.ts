/**
 * Runs batches against the store and owns what happens when they fail. A batch is a "flight": its
 * keys are busy (no other batch may take them) until each op is settled, one of:
 *   applied      the store accepted it (or already held that exact version: a redelivery);
 *   superseded   the store holds a strictly newer version of the key: settled, but NOT applied;
 *   dead-letter  it failed permanently, or kept failing on its own past `retry.maxAttempts`,
 *                AND the store was shown to be otherwise healthy (see below).
 * A failing batch is retried with exponential backoff and full jitter. A batch that fails with a
 * permanent error, or keeps failing, is split in halves so the good ops land and a poison op is
 * isolated. Consecutive failures open the circuit (one probe at a time: circuit-gate.ts), so an
 * outage neither hammers the database nor burns the retry budget of healthy entries.
 *
 * Dead-lettering needs proof. A missing table, a wrong password or a missing privilege fails every
 * op "permanently" at once; dead-lettering them all would empty the backlog into the DLQ. So an op
 * is dead-lettered only when some OTHER op was applied between this op's failures (a "proof": a
 * batch that applied at least one op; the good half of a bisection gives one, so does a per-op
 * failure in a batch whose other ops applied). Without proof the op is HELD: it stays in its
 * flight (its key busy, counted in the backlog, below the checkpoint) and is retried with backoff,
 * at once when a proof arrives. Refusals without proof count toward the circuit like outages, so a
 * store that refuses everything opens it; a held flight does not count toward `flush.concurrency`
 * and yields the circuit's probe to fresh work, so a lone poison write is dead-lettered as soon as
 * other traffic lands. A successful `ping()` is not proof: a database whose table is missing
 * answers pings.
 *
 * Global order (`flush.order: 'global'`, one flight at a time, its ops in version order) changes
 * two things so that nothing lands past an op that has not: a bisection whose first half holds ops
 * does not run its second half (it is held with them), and an op that key order would dead-letter
 * is HALTED instead: held and retried with backoff like an op without proof (hook `halted`, once
 * per op), so flushing stops at it until it lands (the store or the data was fixed) or its key is
 * written again (the newer write replaces it, see `dropReplaced`), or an operator skips it
 * (`skipHalted`; halts.ts says why it is never skipped by itself). A permanent refusal halts
 * without waiting for proof (no later batch goes that could bring one); ops failing retryably past
 * `maxAttempts` without proof (an outage) are held, not halted. Replayed dead letters still go
 * back to the queue: they are letters already.
 */
import type { Clock } from '../contracts/clock.js'
import type { BatchResult, Store } from '../contracts/store.js'
import { toError } from '../to-error.js'
import { BatchMeter } from './batch-meter.js'
import type { CircuitBreaker } from './circuit.js'
import { CircuitGate } from './circuit-gate.js'
import { Flights, type Flight } from './flights.js'
import { Halts } from './halts.js'
import { Sleepers } from './sleepers.js'
import type { PendingOp } from './pending-op.js'
import { backoffDelay, isRetryable } from './retry.js'
import type { FlushCounts, FlusherHooks, FlusherOptions } from './flusher-hooks.js'
import { callStore, supersededOps, TimeSlice, type Outcome } from './store-call.js'

/** Attempts (while the store is otherwise healthy) after which a multi-op batch is split. */
const SPLIT_AFTER = 3

/** What one attempt leaves: ops to try again at once (after their backoff), and held ops. */
interface Round {
  readonly retry: PendingOp[]
  readonly held: PendingOp[]
}

const SETTLED: Round = { retry: [], held: [] }

export class Flusher {
  /** Keys in flight, ops and bytes in flight, held flights: read by the scheduler and the engine. */
  readonly flights = new Flights()
  private readonly gate: CircuitGate
  private readonly slice = new TimeSlice()
  /** Backoffs of failing batches, and of held flights (woken early by a proof). */
  private readonly sleepers: Sleepers
  private readonly heldSleepers: Sleepers
  private stopped = false
  /** Batches that applied at least one op: the proof that the store takes writes. */
  private proofs = 0
  /** Times and traces every store call: `stats().flush.batchDuration` and `batchOps`, the store-batch channel. */
  readonly meter: BatchMeter
  private readonly counted: FlushCounts = { batches: 0, ops: 0, fenced: 0, superseded: 0, failedBatches: 0, retries: 0 }
  /** Global order (see the header). */
  private readonly inOrder: boolean
  /** Halted ops in flights (global order); forgotten when their flight ends. */
  private readonly halts: Halts

  constructor(
    private readonly store: Store,
    private readonly policy: FlusherOptions,
    private readonly circuit: CircuitBreaker,
    private readonly clock: Clock,
    private readonly hooks: FlusherHooks,
  ) {
    this.meter = new BatchMeter(policy.name ?? 'default')
    this.sleepers = new Sleepers(clock)
    this.heldSleepers = new Sleepers(clock)
    this.gate = new CircuitGate(circuit, store, clock)
    this.inOrder = policy.order === 'global'
    this.halts = new Halts((op, error) => hooks.halted?.(op, error))
  }

  get counts(): Readonly<FlushCounts> {
    return this.counted
  }

  /** Keys in a flight. */
  get busy(): ReadonlySet<string> {
    return this.flights.busy
  }

  /**
   * Whether the scheduler may start another flight: fewer than `concurrency` active (not held)
   * flights while the circuit is closed; while it is open, one, when no active flight is left to
   * carry the probe (fresh work then proves the store, or not).
   */
  canStart(concurrency: number): boolean {
    const active = this.flights.active
    return this.circuit.state === 'closed' ? active < concurrency : active === 0
  }

  /** Starts a flight for `ops` (non-empty, none of them busy); resolves when it ends. Never rejects. */
  start(ops: PendingOp[]): Promise<void> {
    const flight = this.flights.begin(ops)
    return this.drive(ops, flight)
      .catch((error: unknown) => {
        // Which ops settled is unknown: keep them all below the low-water mark (safe in the log).
        this.flights.abandon(ops)
        this.hooks.internalError(toError(error))
      })
      .finally(() => {
        this.halts.forget(ops)
        this.flights.end(flight, ops)
        this.hooks.flightEnded()
      })
  }

  /**
   * Global order: the halted ops go to the dead-letter queue after all and flushing goes on past
   * them (an operator's call, when neither the store nor the data can be fixed, or the backlog is
   * too full to write their keys again). Returns how many; their flight picks them up at once.
   */
  skipHalted(): number {
    const skipped = this.halts.skipAll()
    this.heldSleepers.wakeAll()
    return skipped
  }

  /** Stops retrying: flights waiting on backoff or the circuit end now, their ops unsettled. */
  stop(): void {
    this.stopped = true
    this.gate.stop()
    this.sleepers.wakeAll()
    this.heldSleepers.wakeAll()
  }

  /** Whether a write-through may go to the store now (false while the circuit is open). */
  get available(): boolean {
    return this.circuit.state === 'closed'
  }

  /** Runs the flight until every op is settled: held ops wait (for a proof or their backoff) and go again. */
  private async drive(ops: PendingOp[], flight: Flight): Promise<void> {
    let pending = await this.run(ops, flight)
    while (pending.length > 0 && !this.stopped) {
      if (this.flights.suspect(flight)) this.hooks.slotFreed()
      await this.waitHeld(pending)
      if (this.stopped) break
      pending = this.dropReplaced(pending, flight)
      pending = await this.skipChosen(pending, flight)
      if (pending.length > 0) pending = await this.run(pending, flight)
    }
    if (pending.length > 0) this.flights.abandon(pending)
  }

  /**
   * A held op whose key was written again since is replaced, as coalescing would have replaced it:
   * the newer write carries the key's value (and resolves or rejects the write-throughs of this
   * one). Its key is freed now so the newer write can fly. In global order only a halted op is
   * replaced (writing its key again is how to get past it); any other held op still lands in its
   * place, before the writes after it. Never when the key's writes since are merges only
   * (`entry.merge`): increments are deltas on top of the held op, which must land first (and a
   * held merge op's own delta would be lost).
   */
  private dropReplaced(ops: PendingOp[], flight: Flight): PendingOp[] {
    const kept: PendingOp[] = []
    for (const op of ops) {
      const entry = op.entry
      if (entry === undefined || entry.version <= op.version || entry.merge !== undefined || (this.inOrder && !this.halts.has(op))) {
        kept.push(op)
        continue
      }
      this.flights.replace(flight, op)
    }
    if (kept.length < ops.length) this.hooks.slotFreed()
    return kept
  }

  /** Halted ops chosen to be skipped (`skipHalted`) are dead-lettered; returns the others. */
  private async skipChosen(ops: PendingOp[], flight: Flight): Promise<PendingOp[]> {
    const chosen = this.halts.chosen(ops)
    if (chosen.length === 0) return ops
    const skipped = new Set<PendingOp>()
    for (const [op, error] of chosen) {
      if (!(await this.settleHook(this.hooks.deadLetter([op], error)))) continue
      this.flights.settled(flight, [op])
      this.halts.forget([op])
      skipped.add(op)
    }
    return ops.filter((op) => !skipped.has(op))
  }

  /** Attempts `ops` until each is settled or held; returns the held ones. */
  private async run(ops: PendingOp[], flight: Flight): Promise<PendingOp[]> {
    let pending = ops
    const held: PendingOp[] = []
    while (pending.length > 0 && !this.stopped) {
      const probe = await this.gate.pass(() => flight.suspect && this.flights.active > 0)
      if (this.stopped) break
      const started = this.clock.now()
      const outcome = await callStore(this.store, pending, this.policy.batchTimeoutMs, this.clock, this.slice, this.meter)
      if (!outcome.ok) this.meter.failed(outcome.trace, pending.length, outcome.durationMs, outcome.error)
      const round = outcome.ok ? await this.onSuccess(pending, outcome, started, flight) : await this.onFailure(pending, outcome.error, probe, flight)
      held.push(...round.held)
      pending = round.retry
      // Global order: ops to retry wait with the held ones, which are older than some of them.
      if (this.inOrder && held.length > 0) {
        held.push(...pending)
        pending = []
      }
    }
    if (pending.length > 0) this.flights.abandon(pending)
    // Global order: held ops go again as one batch, which must be in version order too.
    return this.inOrder ? held.sort((a, b) => a.version - b.version) : held
  }

  private async onSuccess(ops: PendingOp[], outcome: Outcome & { ok: true }, started: number, flight: Flight): Promise<Round> {
    const result: BatchResult | void = outcome.result
    const failures = result?.failures ?? []
    const failed = new Map(failures.map((f) => [ops[f.index], f.error] as const))
    const superseded = supersededOps(ops, result)
    const landed: PendingOp[] = []
    let applied = 0
    for (const op of ops) {
      if (failed.has(op)) continue
      const storeVersion = superseded?.get(op)
      if (storeVersion === undefined) {
        applied++
        this.counted.ops++
        this.hooks.applied(op)
      } else {
        this.counted.superseded++
        this.hooks.superseded(op, storeVersion)
      }
      landed.push(op)
    }
    const proofBefore = this.proofs
    if (applied > 0) this.proveHealthy()
    if (landed.length > 0 || failed.size === 0) this.circuit.recordSuccess()
    else this.circuit.recordRefusal(failures[0]?.error ?? new Error('every op failed'))
    this.gate.wake()
    const fenced = result?.fenced ?? 0
    this.counted.batches++
    this.counted.fenced += fenced
    this.meter.settled(outcome.trace, ops.length, outcome.durationMs, applied, fenced, failed.size)
    this.hooks.batchDone(ops.length - failed.size, fenced, this.clock.now() - started)
    const round: Round = { retry: [], held: [] }
    if (landed.length > 0) {
      const removing = this.hooks.landed(landed)
      if (removing !== undefined && !(await this.settleHook(removing))) round.held.push(...landed)
      else this.flights.settled(flight, landed)
    }
    const dead: Array<[PendingOp, Error]> = []
    for (const [op, error] of failed) {
      if (op === undefined) continue
      this.count([op], proofBefore)
      const proven = applied > 0 || op.redelivery || (op.refusedAtProof >= 0 && this.proofs > op.refusedAtProof)
      if (!isRetryable(error)) {
        if (op.refusedAtProof < 0) op.refusedAtProof = this.proofs
        // Global order halts a refused op at once: no later batch can bring a proof.
        if (proven || this.inOrder) dead.push([op, error])
        else round.held.push(op)
      } else if (op.attempts >= this.policy.maxAttempts) {
        if (op.redelivery || this.proofs > op.failingSinceProof) dead.push([op, error])
        else round.held.push(op)
      } else round.retry.push(op)
    }
    for (const [op, error] of dead) round.held.push(...(await this.deadLetter([op], error, flight)).held)
    if (round.retry.length > 0) await this.backoff(round.retry, failures[0]?.error ?? new Error('op failed'))
    return round
  }

  private async onFailure(ops: PendingOp[], error: Error, probe: boolean, flight: Flight): Promise<Round> {
    this.gate.wake()
    if (!isRetryable(error)) return this.onRefusal(ops, error, flight)
    this.circuit.recordFailure(error)
    const counted = this.circuit.state === 'closed' || probe
    if (!counted) {
      this.failed(ops.length, error, ops[0]?.attempts ?? 0, undefined)
      return { retry: ops, held: [] }
    }
    const attempts = this.count(ops, this.proofs)
    if (ops.length > 1 && attempts >= SPLIT_AFTER) {
      this.failed(ops.length, error, attempts, 0)
      return this.split(ops, flight)
    }
    if (attempts >= this.policy.maxAttempts) {
      this.failed(ops.length, error, attempts, undefined)
      // Dead-lettered only with proof that other ops landed since these began failing.
      if (ops.every((op) => op.redelivery || this.proofs > op.failingSinceProof)) return this.deadLetter(ops, error, flight)
      return { retry: [], held: ops }
    }
    await this.backoff(ops, error)
    return { retry: ops, held: [] }
  }

  /** A permanent error for the whole batch: split it, or (one op) dead-letter it only with proof. */
  private async onRefusal(ops: PendingOp[], error: Error, flight: Flight): Promise<Round> {
    const op = ops.length === 1 ? ops[0] : undefined
    const proven = op !== undefined && (op.redelivery || (op.refusedAtProof >= 0 && this.proofs > op.refusedAtProof))
    if (proven) this.circuit.recordSuccess()
    else this.circuit.recordRefusal(error)
    // A bisection step spends no retry budget of the good ops it carries; a lone op's refusals count.
    if (op !== undefined) this.count(ops, this.proofs)
    // The first refusal counts: a proof that arrives after it, however the op is regrouped, proves it.
    for (const o of ops) if (o.refusedAtProof < 0) o.refusedAtProof = this.proofs
    this.failed(ops.length, error, ops[0]?.attempts ?? 1, undefined)
    if (op === undefined) return this.split(ops, flight)
    return proven || this.inOrder ? this.deadLetter(ops, error, flight) : { retry: [], held: ops }
  }

  private async deadLetter(ops: PendingOp[], error: Error, flight: Flight): Promise<Round> {
    if (this.inOrder && !ops.every((op) => op.redelivery)) return this.halt(ops, error)
    if (!(await this.settleHook(this.hooks.deadLetter(ops, error)))) return { retry: [], held: ops }
    this.flights.settled(flight, ops)
    return SETTLED
  }

  /** Global order: ops key order would dead-letter are held instead, and hold back the rest. */
  private halt(ops: PendingOp[], error: Error): Round {
    this.halts.add(ops, error)
    return { retry: [], held: ops }
  }

  private failed(ops: number, error: Error, attempt: number, retryInMs: number | undefined): void {
    this.counted.failedBatches++
    this.hooks.batchFailed(ops, error, attempt, retryInMs)
  }

  /** Awaits a hook's promise; a failure is reported and the caller holds the ops to try again. */
  private async settleHook(work: Promise<void>): Promise<boolean> {
    try {
      await work
      return true
    } catch (error) {
      this.hooks.internalError(toError(error))
      return false
    }
  }

  /**
   * Bisects: each half runs (and if need be splits) on its own, one after the other. In global
   * order a first half that holds ops holds the second half too: it must not land before them.
   */
  private async split(ops: PendingOp[], flight: Flight): Promise<Round> {
    const half = Math.ceil(ops.length / 2)
    const held = await this.run(ops.slice(0, half), flight)
    if (this.inOrder && held.length > 0) return { retry: [], held: held.concat(ops.slice(half)) }
    held.push(...(await this.run(ops.slice(half), flight)))
    return { retry: [], held }
  }

  /** A batch applied ops: held ops may now be proven poison (or land), so they go again at once. */
  private proveHealthy(): void {
    this.proofs++
    this.heldSleepers.wakeAll()
  }

  /** Counts a failed attempt on each op; returns the highest count. */
  private count(ops: readonly PendingOp[], proof: number): number {
    const now = this.clock.now()
    for (const op of ops) {
      op.attempts++
      if (op.firstFailedAt === 0) op.firstFailedAt = now
      if (op.failingSinceProof < 0) op.failingSinceProof = proof
    }
    return ops.reduce((most, op) => Math.max(most, op.attempts), 0)
  }

  private async backoff(ops: readonly PendingOp[], error: Error): Promise<void> {
    const attempts = ops[0]?.attempts ?? 1
    const delay = backoffDelay(Math.max(1, attempts), this.policy)
    this.counted.retries++
    this.failed(ops.length, error, attempts, delay)
    await this.settleHook(this.hooks.retrying?.(ops, delay) ?? Promise.resolve())
    if (!this.stopped) await this.sleepers.sleep(delay)
  }

  /** Held ops wait for their backoff, or for a proof that the store takes writes, whichever is first. */
  private async waitHeld(ops: readonly PendingOp[]): Promise<void> {
    const attempts = ops.reduce((most, op) => Math.max(most, op.attempts), 1)
    const delay = backoffDelay(attempts, this.policy)
    this.counted.retries++
    await this.settleHook(this.hooks.retrying?.(ops, delay) ?? Promise.resolve())
    if (!this.stopped) await this.heldSleepers.sleep(delay)
  }
}
