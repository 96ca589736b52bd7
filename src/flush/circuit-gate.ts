/**
 * Where a flight waits for the circuit before each store call. While the circuit is closed every
 * batch goes at once; while it is open one batch at a time goes as the probe, at the circuit's
 * probe times, after the store's `ping()` answered when it has one (a ping proves the store is
 * reachable, not that it takes writes). A held flight leaves the probe to an active flight.
 */
import type { Clock } from '../contracts/clock.js'
import type { Store } from '../contracts/store.js'
import { toError } from '../to-error.js'
import type { CircuitBreaker } from './circuit.js'

export class CircuitGate {
  private waiters: Array<() => void> = []
  private stopped = false

  constructor(
    private readonly circuit: CircuitBreaker,
    private readonly store: Pick<Store, 'ping'>,
    private readonly clock: Clock,
  ) {}

  /**
   * Waits until the circuit lets a batch go; true when this batch is the circuit's probe, false
   * when it goes as usual (or the gate stopped). `yieldProbe` says whether this flight should
   * leave the probe to others (it holds refused writes and active flights exist).
   */
  async pass(yieldProbe: () => boolean): Promise<boolean> {
    for (;;) {
      if (this.stopped) return false
      const wasOpen = this.circuit.state === 'open'
      if (wasOpen && yieldProbe()) {
        await this.waitForCircuit()
        continue
      }
      if (this.circuit.canFlush()) {
        if (!wasOpen) return false
        if (this.store.ping === undefined || (await this.pingOk())) return true
        continue
      }
      await this.waitForCircuit()
    }
  }

  /** The circuit may have changed (a batch settled): every waiting flight looks again. */
  wake(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const wake of waiters) wake()
  }

  stop(): void {
    this.stopped = true
    this.wake()
  }

  /** Pings the store in the probe slot; a failure is the probe's failure, a success lets the batch go. */
  private async pingOk(): Promise<boolean> {
    try {
      await this.store.ping?.()
      return true
    } catch (error) {
      this.circuit.recordRefusal(toError(error))
      this.wake()
      return false
    }
  }

  /** Resolves when the circuit changes or its next probe time comes. */
  private waitForCircuit(): Promise<void> {
    return new Promise<void>((resolve) => {
      const probeAt = this.circuit.nextProbeAt
      const wait = probeAt === undefined ? 0 : probeAt - this.clock.now()
      // A probe time already passed means a probe is out: its result wakes the gate.
      const timer = wait > 0 ? this.clock.setTimeout(wake, wait) : undefined
      const clock = this.clock
      function wake(): void {
        if (timer !== undefined) clock.clearTimeout(timer)
        resolve()
      }
      this.waiters.push(wake)
    })
  }
}
