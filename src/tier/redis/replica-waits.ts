/**
 * Durability `replicated`: the write script and `WAIT replicas timeout` in one pipeline on one
 * connection. Writes made in the same tick share one pipeline and one WAIT (group commit: a WAIT
 * covers every earlier write of its connection). The WAIT's count is each write's answer; the
 * tier reports a shortfall as "not confirmed", never as a failed write, since the write applied.
 */
import type { RedisClientPort, ScriptCall } from './client-port.js'

interface Waiting {
  readonly call: ScriptCall
  readonly resolve: (answer: { value: unknown; replicas: number }) => void
  readonly reject: (error: Error) => void
}

export class ReplicaWaits {
  private waiting: Waiting[] = []

  constructor(
    private readonly port: RedisClientPort,
    private readonly replicas: number,
    private readonly timeoutMs: number,
  ) {}

  /** Runs `call` in the next shared pipeline; resolves with its reply and the replicas that acknowledged it. */
  run(call: ScriptCall): Promise<{ value: unknown; replicas: number }> {
    return new Promise((resolve, reject) => {
      if (this.waiting.push({ call, resolve, reject }) === 1) queueMicrotask(() => this.send())
    })
  }

  private send(): void {
    const batch = this.waiting
    this.waiting = []
    this.port
      .runThenWait(
        batch.map((w) => w.call),
        this.replicas,
        this.timeoutMs,
      )
      .then(
        ({ replies }) =>
          batch.forEach((w, i) => {
            const reply = replies[i]
            if (reply === undefined) w.reject(new Error('no reply from Redis'))
            else if (reply.ok) w.resolve({ value: reply.value, replicas: reply.replicas })
            else w.reject(reply.error)
          }),
        (error: unknown) => batch.forEach((w) => w.reject(error instanceof Error ? error : new Error(String(error)))),
      )
  }
}
