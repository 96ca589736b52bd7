/**
 * Durability `replicated`: the write script and `WAIT replicas timeout` in one pipeline on one
 * connection. Writes share pipelines and WAITs (group commit: a WAIT covers every earlier write of
 * its connection), one lane per primary (`port.ownerOf`; one lane for a single server): a lane
 * has at most one pipeline out, and the writes made while it is out go together in the next one.
 * A WAIT blocks its connection until it is answered, so pipelines sent behind it would only queue
 * on the server, each adding its own WAIT's time; and on a Cluster a slow or failing primary holds
 * up only its own lane. The WAIT's count is each write's answer; the tier reports a shortfall as
 * "not confirmed", never as a failed write, since the write applied.
 */
import type { RedisClientPort, ScriptCall } from './client-port.js'

interface Waiting {
  readonly call: ScriptCall
  readonly resolve: (answer: { value: unknown; replicas: number }) => void
  readonly reject: (error: Error) => void
}

interface Lane {
  waiting: Waiting[]
  /** A pipeline of this lane is out. */
  busy: boolean
}

export class ReplicaWaits {
  private readonly lanes = new Map<string, Lane>()

  constructor(
    private readonly port: RedisClientPort,
    private readonly replicas: number,
    private readonly timeoutMs: number,
  ) {}

  /** Runs `call` in its primary's next pipeline; resolves with its reply and the replicas that acknowledged it. */
  run(call: ScriptCall): Promise<{ value: unknown; replicas: number }> {
    const owner = this.port.ownerOf(call)
    let lane = this.lanes.get(owner)
    if (lane === undefined) this.lanes.set(owner, (lane = { waiting: [], busy: false }))
    const joined = lane
    return new Promise((resolve, reject) => {
      if (joined.waiting.push({ call, resolve, reject }) === 1 && !joined.busy) queueMicrotask(() => this.send(joined))
    })
  }

  private send(lane: Lane): void {
    if (lane.busy || lane.waiting.length === 0) return
    const batch = lane.waiting
    lane.waiting = []
    lane.busy = true
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
      .finally(() => {
        lane.busy = false
        this.send(lane)
      })
  }
}
