/**
 * A circuit breaker for the flush pipeline. After `threshold` consecutive retryable failures the
 * circuit opens: flushing pauses and, once a backed-off probe time is reached, exactly one batch
 * (the probe) may go (half-open). The probe's success closes the circuit; its failure schedules
 * the next probe further out. Permanent errors (bad data) never open the circuit: a poison row is
 * not an outage. A store that rejects the data has answered, so for the circuit a permanent error
 * counts as a sign of life, like a success (this also keeps a probe that hits a poison row from
 * stalling the bisection that isolates it). But a refusal is a sign of life only when other writes
 * land: a missing table or privilege refuses everything. The flusher, which knows, records a
 * refusal without that proof with `recordRefusal`, which counts like an outage.
 *
 * The breaker owns no timers: the flusher asks `canFlush()` and may use `nextProbeAt` to schedule
 * its own wake-up on the same `Clock`.
 */
import type { Clock } from '../contracts/clock.js'
import { checkNumber } from '../validate/check.js'
import { isRetryable } from './retry.js'
import { toError } from '../to-error.js'

export interface CircuitOptions {
  /** Consecutive retryable failures that open the circuit. */
  threshold: number
  /** Delay bound before the first probe; it doubles after each failed probe. */
  baseDelayMs: number
  /** Cap on the delay bound between probes. */
  maxDelayMs: number
  /** Called when the circuit opens, after the state changed. */
  onOpen?: (event: { error: Error; failures: number }) => void
  /** Called when the circuit closes, after the state changed. */
  onClose?: (event: { openForMs: number }) => void
}

export type CircuitState = 'closed' | 'open'

export class CircuitBreaker {
  private readonly options: CircuitOptions
  private consecutiveFailures = 0
  private openedAt: number | undefined
  private probeAt: number | undefined
  private failedProbes = 0
  private probeInFlight = false

  /** `random` (default `Math.random`) draws the jitter of probe delays; seed it in tests. */
  constructor(
    options: CircuitOptions,
    private readonly clock: Clock,
    private readonly random: () => number = Math.random,
  ) {
    validateOptions(options)
    this.options = { ...options }
  }

  /** `open` from the moment the threshold is reached until a success is recorded. */
  get state(): CircuitState {
    return this.openedAt === undefined ? 'closed' : 'open'
  }

  /** When the next probe may go (epoch ms); `undefined` while closed. */
  get nextProbeAt(): number | undefined {
    return this.probeAt
  }

  /** Consecutive retryable failures so far (reset by a success). */
  get failures(): number {
    return this.consecutiveFailures
  }

  /** True while the circuit is open and its single probe is in flight. */
  get probing(): boolean {
    return this.probeInFlight
  }

  /**
   * Whether a batch may be sent now. Always true while closed. While open it is true once the
   * probe time is reached, and then false again until that probe's result is recorded: a `true`
   * while open hands the caller the one probe slot, so the caller must send the batch and record
   * its outcome.
   */
  canFlush(): boolean {
    if (this.openedAt === undefined) return true
    if (this.probeInFlight || this.probeAt === undefined || this.clock.now() < this.probeAt) return false
    this.probeInFlight = true
    return true
  }

  /** Records a batch that the store accepted: resets the failure count and closes an open circuit. */
  recordSuccess(): void {
    this.consecutiveFailures = 0
    this.failedProbes = 0
    this.probeInFlight = false
    const openedAt = this.openedAt
    if (openedAt === undefined) return
    this.openedAt = undefined
    this.probeAt = undefined
    this.options.onClose?.({ openForMs: Math.max(0, this.clock.now() - openedAt) })
  }

  /**
   * Records a failed batch (or ping). A retryable error counts, opens the circuit at the
   * threshold, and after a failed probe pushes the next probe out. A permanent error (see
   * `isRetryable`) means the store answered and refused the data: it is recorded as a success.
   */
  recordFailure(error: unknown): void {
    if (!isRetryable(error)) {
      this.recordSuccess()
      return
    }
    this.recordRefusal(error)
  }

  /**
   * Records a failure that counts whatever its error says: a permanent refusal with no proof that
   * the store takes other writes (a missing table refuses every op alike), or a failed ping.
   */
  recordRefusal(error: unknown): void {
    this.consecutiveFailures++
    if (this.openedAt === undefined) {
      if (this.consecutiveFailures >= this.options.threshold) this.open(error)
    } else if (this.probeInFlight) {
      // Only a probe's failure moves the schedule: a batch that was already in flight when the
      // circuit opened says nothing new about the store.
      this.probeInFlight = false
      this.failedProbes++
      this.scheduleProbe()
    }
  }

  private open(error: unknown): void {
    this.openedAt = this.clock.now()
    this.failedProbes = 0
    this.scheduleProbe()
    this.options.onOpen?.({ error: toError(error), failures: this.consecutiveFailures })
  }

  /**
   * "Equal jitter" (half fixed, half random) rather than full jitter: a probe delay drawn near
   * zero would hammer a store that is down, and probes are one at a time so there is no herd.
   */
  private scheduleProbe(): void {
    const { baseDelayMs, maxDelayMs } = this.options
    // Clamp the exponent: 2^1024 is Infinity, and min() with the cap keeps the bound finite anyway.
    const bound = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(this.failedProbes, 1023))
    const delay = Math.floor(bound / 2 + this.random() * (bound / 2))
    this.probeAt = this.clock.now() + delay
  }
}

function validateOptions(options: CircuitOptions): void {
  checkNumber(options.threshold, 'circuit threshold', { min: 1, integer: true, required: true })
  checkNumber(options.baseDelayMs, 'circuit baseDelayMs', { min: 0, finite: true, required: true })
  checkNumber(options.maxDelayMs, 'circuit maxDelayMs', { min: 0, finite: true, required: true })
}
