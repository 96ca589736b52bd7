/**
 * A bound on how long the Redis tier waits for Redis (`commandTimeoutMs`): a client port
 * (`client-port.ts`) over another that rejects a call Redis has not answered in time with
 * `RedisTimeoutError`, which the tier reports as `RedisUnavailableError`. A paused Redis (SIGSTOP,
 * a long stall) or a partition that sends no RST keeps the connection open, so ioredis never
 * gives up on its own (it has no command timeout by default, and the tier cannot set one on a
 * client the user built).
 *
 * The call itself is not cancelled: it stays in the client's queue, and its late reply is read by
 * the command it belongs to (the client's queue stays in step) and then dropped here. So a write
 * that timed out may still apply once Redis answers again: its error says `applied: 'unknown'`.
 * Flush work that timed out is harmless when it lands late: a claim only renews this instance's
 * lease, an acknowledgement is a compare-and-swap on the version, and the store's fence keeps a
 * batch sent again from going backwards.
 *
 * Cost: no timer per call. Each call outstanding is one entry in a set, stamped with the tick it
 * is due at; one interval (`timeoutMs / 5`, 50 ms to 1 s, unref'd) counts ticks and rejects the
 * calls past due. It runs only while calls are outstanding, so a call rejects between `timeoutMs`
 * and `timeoutMs` plus one tick after it was made (later when the event loop is late).
 */
import type { RedisClientPort, RedisScript, RedisServerPort, ScriptCall, WaitedReplies } from './client-port.js'

/** Redis did not answer a call within `commandTimeoutMs` (the cause of a `RedisUnavailableError`). */
export class RedisTimeoutError extends Error {
  override readonly name = 'RedisTimeoutError'
  constructor(readonly timeoutMs: number) {
    super(`Redis did not answer within ${timeoutMs} ms (commandTimeoutMs)`)
  }
}

interface Waiting {
  readonly due: number
  readonly extraMs: number
  readonly reject: (error: Error) => void
}

export class DeadlinePort implements RedisClientPort {
  private readonly outstanding = new Set<Waiting>()
  private readonly tickMs: number
  private ticks = 0
  /** `runThenWait` calls not answered yet (late ones included), and the longest WAIT among them. */
  private waits = 0
  private waitMs = 0
  private sweep: ReturnType<typeof setInterval> | undefined

  constructor(
    private readonly inner: RedisClientPort,
    readonly timeoutMs: number,
  ) {
    this.tickMs = Math.min(1000, Math.max(50, Math.floor(timeoutMs / 5)))
  }

  get reloads(): number {
    return this.inner.reloads
  }

  run(call: ScriptCall): Promise<unknown> {
    return this.bound(this.inner.run(call))
  }

  /**
   * Bounded by `commandTimeoutMs` past the WAIT's own `timeoutMs` (Redis answers WAIT only then).
   * A WAIT holds its connection until it answers, so every call made while one is out gets as long.
   */
  runThenWait(calls: readonly ScriptCall[], replicas: number, timeoutMs: number, aof?: boolean): Promise<WaitedReplies> {
    this.waits++
    this.waitMs = Math.max(this.waitMs, timeoutMs)
    const done = (): void => {
      if (--this.waits === 0) this.waitMs = 0
    }
    const work = this.inner.runThenWait(calls, replicas, timeoutMs, aof)
    work.then(done, done)
    return this.bound(work, timeoutMs)
  }

  ownerOf(call: ScriptCall): string {
    return this.inner.ownerOf(call)
  }

  read(command: string, key: string, ...args: string[]): Promise<unknown> {
    return this.bound(this.inner.read(command, key, ...args))
  }

  load(script: RedisScript): Promise<void> {
    return this.bound(this.inner.load(script))
  }

  async primaries(): Promise<RedisServerPort[]> {
    const servers = await this.bound(this.inner.primaries())
    return servers.map((server) => ({
      address: server.address,
      info: (section) => this.bound(server.info(section)),
      configGet: (name) => this.bound(server.configGet(name)),
      hasCommand: (command) => this.bound(server.hasCommand(command)),
    }))
  }

  /**
   * `work` (a call on the client made outside the port), or a `RedisTimeoutError` once it is
   * `extraMs` + `timeoutMs` late (`extraMs`: by default the WAIT out on the connection, if any).
   */
  bound<T>(work: Promise<T>, extraMs = this.waitMs): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiting: Waiting = { due: this.ticks + Math.ceil((this.timeoutMs + extraMs) / this.tickMs), extraMs, reject }
      this.outstanding.add(waiting)
      this.sweep ??= this.startSweep()
      work.then(
        (value) => {
          this.outstanding.delete(waiting)
          resolve(value)
        },
        (error: Error) => {
          this.outstanding.delete(waiting)
          reject(error) // the client's own error, as it is
        },
      )
    })
  }

  private startSweep(): ReturnType<typeof setInterval> {
    const sweep = setInterval(() => {
      this.ticks++
      for (const waiting of this.outstanding) {
        if (waiting.due >= this.ticks) continue
        this.outstanding.delete(waiting)
        waiting.reject(new RedisTimeoutError(this.timeoutMs + waiting.extraMs))
      }
      if (this.outstanding.size === 0) {
        clearInterval(sweep)
        this.sweep = undefined
      }
    }, this.tickMs)
    sweep.unref()
    return sweep
  }
}
