/**
 * The client port (`client-port.ts`) over an ioredis Cluster (`new Redis.Cluster(nodes)`), and
 * `ioredisPort`, which picks it or the standalone one (`ioredis-client.ts`) for the client given.
 *
 * Every script call names keys of one slot (checked here: a call that would cross slots is a bug
 * and never reaches the server). Single calls go through the Cluster object, which routes them by
 * key and itself follows `MOVED` and `ASK` and waits out `TRYAGAIN` and `CLUSTERDOWN` (up to
 * `maxRedirections`, 16 by default, `retryDelayOn*` apart). Pipelines it does not retry once any
 * command in them succeeded that is not read-only (EVALSHA and WAIT are not), so `runThenWait`
 * does that itself: calls grouped by the primary owning their slot, one pipeline per primary
 * ending with WAIT (a keyless WAIT sent alone goes to a random node and counts nothing useful);
 * each call's replica count is its own primary's. A call answered `MOVED` or `ASK` is sent again to
 * the node named, on that node's connection (after `ASKING` for `ASK`); `TRYAGAIN` (a slot
 * mid-migration) again after a short pause; all of it for up to `TRYAGAIN_BUDGET_MS` (single calls
 * too, past ioredis's own redirections); each of these means the script did not run, so sending it again cannot
 * apply it twice. A connection lost with calls out is another matter (they may have run): ioredis
 * sends such a pipeline again itself, and a write script run twice only rewrites its value at a
 * newer version. `NOSCRIPT` (a promoted replica has no scripts: the cache
 * is per node) is answered by `EVAL`, which runs the script on the key's node and caches it there.
 * `CLUSTERDOWN`, and redirections past the bound, reach the caller as `RedisClusterError`.
 */
import { RedisClusterError } from '../../errors.js'
import type { RedisClientPort, RedisScript, RedisServerPort, ScriptCall, WaitedReplies } from './client-port.js'
import { evalArgs, isNoScript, waitCommand, waitCounts } from './client-port.js'
import { IoRedisClient, ioredisServerPort, type IoRedisLike, type IoRedisPipelineLike } from './ioredis-client.js'
import { keySlot } from './key-slot.js'

/** One node's connection in an ioredis Cluster (a `Redis`). */
export interface IoRedisNodeLike extends IoRedisLike {
  readonly options: { readonly host?: string; readonly port?: number }
}

/** The subset of an ioredis `Cluster` used here. */
export interface IoRedisClusterLike extends IoRedisLike {
  readonly isCluster: true
  readonly status: string
  /** Per slot, the addresses (`host:port`) of its primary and then its replicas, as last read. */
  readonly slots: ReadonlyArray<readonly string[] | undefined>
  /** Per slot, the id of its group of nodes: a Cluster pipeline must keep to one group. */
  readonly _groupsBySlot: ReadonlyArray<number | undefined>
  nodes(role?: 'all' | 'master' | 'slave'): IoRedisNodeLike[]
  refreshSlotsCache(callback?: (error?: Error | null) => void): void
}

/** The port for `client`: a Cluster port for an ioredis Cluster, the standalone one otherwise. */
export function ioredisPort(client: IoRedisLike): RedisClientPort {
  return isIoRedisCluster(client) ? new IoRedisClusterClient(client) : new IoRedisClient(client)
}

export function isIoRedisCluster(client: IoRedisLike): client is IoRedisClusterLike {
  const candidate = client as Partial<IoRedisClusterLike>
  return candidate.isCluster === true && typeof candidate.nodes === 'function'
}

/** Rounds of redirections a `runThenWait` call follows at most (a slot mid-migration sends a new key's write between its two nodes until the slot has moved). */
const MAX_ROUNDS = 100
/** The pause before a call answered `TRYAGAIN` is sent again (ioredis's `retryDelayOnTryAgain`). */
const TRYAGAIN_MS = 100
/**
 * How long a call keeps being redirected or sent again while its slot is mid-migration (`TRYAGAIN`:
 * a script's keys are split between two nodes until the slot's last key has moved; `ASK` and then
 * `TRYAGAIN` from the importing node for a key on neither), before the caller gets
 * `RedisClusterError`. The write did not apply either way.
 */
export const TRYAGAIN_BUDGET_MS = 3000

type Reply = WaitedReplies['replies'][number]

/** A call still to send, and where: its slot's primary, unless a redirection named a node. */
interface Pending {
  readonly index: number
  readonly call: ScriptCall
  readonly slot: number
  /** Send `EVAL` (the script's source) instead of `EVALSHA`: the node answered NOSCRIPT. */
  readonly source: boolean
  readonly node?: string
  readonly asking?: boolean
  /** Sent again after a pause: the slot is mid-migration (TRYAGAIN), or its node is not known yet. */
  readonly later?: boolean
}

export class IoRedisClusterClient implements RedisClientPort {
  reloads = 0

  constructor(private readonly cluster: IoRedisClusterLike) {}

  async run(call: ScriptCall): Promise<unknown> {
    const deadline = Date.now() + TRYAGAIN_BUDGET_MS
    for (;;) {
      try {
        return await this.runOnce(call)
      } catch (error) {
        // ioredis gave up on its own redirections (16, TRYAGAIN 100 ms apart); the slot may take longer to move.
        if (!(error instanceof RedisClusterError && error.reply !== 'CLUSTERDOWN') || Date.now() > deadline) throw error
        await sleep(TRYAGAIN_MS)
      }
    }
  }

  private async runOnce(call: ScriptCall): Promise<unknown> {
    slotOf(call)
    const send = call.binary === true ? this.cluster.callBuffer.bind(this.cluster) : this.cluster.call.bind(this.cluster)
    try {
      return await send('EVALSHA', ...evalArgs(call))
    } catch (error) {
      if (!isNoScript(error)) throw clusterError(error)
      this.reloads++
    }
    try {
      return await send('EVAL', call.script.source, ...evalArgs(call).slice(1))
    } catch (error) {
      throw clusterError(error)
    }
  }

  async runThenWait(calls: readonly ScriptCall[], replicas: number, timeoutMs: number, aof = false): Promise<WaitedReplies> {
    const replies: Reply[] = []
    const deadline = Date.now() + TRYAGAIN_BUDGET_MS
    let pending: Pending[] = calls.map((call, index) => ({ index, call, slot: slotOf(call), source: false }))
    for (let round = 1; pending.length > 0; round++) {
      const groups = new Map<string, { node: IoRedisNodeLike | undefined; items: Pending[] }>()
      for (const item of pending) {
        const node = item.node === undefined ? undefined : this.node(item.node)
        // Through the Cluster object, one pipeline per group of nodes as ioredis sees it (it refuses a pipeline across groups).
        const owner = node !== undefined ? `node ${item.node}` : `group ${this.cluster._groupsBySlot[item.slot]} ${this.cluster.slots[item.slot]?.[0]}`
        let group = groups.get(owner)
        if (group === undefined) groups.set(owner, (group = { node, items: [] }))
        group.items.push(node === undefined ? { ...item, asking: false } : item)
      }
      const sent = await Promise.all([...groups.values()].map(({ node, items }) => this.send(items, node, replicas, timeoutMs, aof)))
      const again: Pending[] = []
      let pause = false
      for (const [item, reply] of sent.flat()) {
        if (reply.ok) {
          replies[item.index] = reply
          continue
        }
        const next = this.redirected(item, reply.error)
        const spent = Date.now() > deadline || round >= MAX_ROUNDS
        if (next === undefined || spent) replies[item.index] = { ok: false, error: clusterError(reply.error) }
        else again.push(next)
        pause ||= next?.later === true && !spent
      }
      if (pause) await sleep(TRYAGAIN_MS)
      pending = again
    }
    return { replies }
  }

  ownerOf(call: ScriptCall): string {
    return this.cluster.slots[slotOf(call)]?.[0] ?? ''
  }

  /** Through the Cluster object, which routes it by `key`'s slot and follows redirections. */
  async read(command: string, key: string, ...args: string[]): Promise<unknown> {
    try {
      return await this.cluster.call(command, key, ...args)
    } catch (error) {
      throw clusterError(error)
    }
  }

  /** Loads `script` on every node (replicas too, so a promoted one has it); a replica that does not answer is skipped. */
  async load(script: RedisScript): Promise<void> {
    await this.ready()
    const primaries = this.cluster.nodes('master')
    await Promise.all(primaries.map((node) => node.call('SCRIPT', 'LOAD', script.source)))
    await Promise.allSettled(this.cluster.nodes('slave').map((node) => node.call('SCRIPT', 'LOAD', script.source)))
  }

  async primaries(): Promise<RedisServerPort[]> {
    await this.ready()
    return this.cluster.nodes('master').map((node) => ioredisServerPort(address(node), node))
  }

  /**
   * Where a call answered `error` goes next, or undefined when the error is the answer. `MOVED` and
   * `ASK` name the node; one the client has no connection to yet is reached by slot after the
   * slot map is read again (and a pause, as for `TRYAGAIN`).
   */
  private redirected(item: Pending, error: Error): Pending | undefined {
    const [reply, , target] = error.message.split(' ')
    if (isNoScript(error)) {
      this.reloads++
      return { ...item, source: true, later: false }
    }
    // TRYAGAIN; or the slot map changed under a pipeline being built (ioredis refused it): route again after the pause.
    if (reply === 'TRYAGAIN' || error.message.startsWith('All keys in the pipeline')) return { ...item, node: undefined, asking: false, later: true }
    if ((reply !== 'MOVED' && reply !== 'ASK') || target === undefined) return undefined
    if (reply === 'MOVED') this.cluster.refreshSlotsCache()
    if (this.node(target) !== undefined) return { ...item, node: target, asking: reply === 'ASK', later: false }
    this.cluster.refreshSlotsCache()
    return { ...item, node: undefined, asking: false, later: true }
  }

  private node(target: string): IoRedisNodeLike | undefined {
    return this.cluster.nodes('all').find((n) => address(n) === target)
  }

  /** Until the Cluster is ready its node list holds the startup nodes, replicas among them as primaries. */
  private async ready(): Promise<void> {
    if (this.cluster.status !== 'ready') await this.cluster.call('PING')
  }

  /**
   * One pipeline for `group`, WAIT (or WAITAOF) last: on `node`'s own connection when a redirection named it,
   * else through the Cluster, which picks the group's primary. Resolves with each call's reply (a
   * failed connection fails them all).
   */
  private async send(group: readonly Pending[], node: IoRedisNodeLike | undefined, replicas: number, timeoutMs: number, aof: boolean): Promise<Array<[Pending, Reply]>> {
    const pipeline: IoRedisPipelineLike = (node ?? this.cluster).pipeline()
    // Where each call's reply sits in the pipeline (an ASKING before it takes a place).
    const at: number[] = []
    for (const item of group) {
      if (item.asking === true) pipeline.call('ASKING')
      if (item.source) pipeline.call('EVAL', item.call.script.source, ...evalArgs(item.call).slice(1))
      else pipeline.call('EVALSHA', ...evalArgs(item.call))
      at.push((at.at(-1) ?? -1) + (item.asking === true ? 2 : 1))
    }
    pipeline.call(...waitCommand(replicas, timeoutMs, aof))
    let results: Array<[Error | null, unknown]>
    try {
      results = (await pipeline.exec()) ?? []
    } catch (error) {
      const failed = error instanceof Error ? error : new Error(String(error))
      return group.map((item) => [item, { ok: false, error: failed }])
    }
    const waited = results.at(-1)
    // A failed WAIT confirms nothing: the calls that succeeded stand, with no replica counted.
    const counted = waited !== undefined && waited[0] === null ? waitCounts(waited[1], aof) : { replicas: 0, ...(aof ? { local: false } : {}) }
    return group.map((item, i) => {
      const [error, value] = results[at[i] as number] ?? [new Error('no reply from Redis'), undefined]
      return [item, error === null ? { ok: true, value, ...counted } : { ok: false, error }]
    })
  }
}

/** The one slot of `call`'s keys; throws (a bug in the caller, never sent) when they span slots. */
function slotOf(call: ScriptCall): number {
  const [first, ...rest] = call.keys
  const slot = first === undefined ? 0 : keySlot(first)
  for (const key of rest) {
    if (keySlot(key) !== slot) throw new Error(`writebehind: the script ${call.script.name} names keys of two Cluster slots (${first} and ${key}): every key of a call must share one hash tag`)
  }
  return slot
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function address(node: IoRedisNodeLike): string {
  return `${node.options.host ?? '127.0.0.1'}:${node.options.port ?? 6379}`
}

/** `RedisClusterError` for a reply that says the cluster could not run the command, else `error` itself. */
export function clusterError(error: unknown): Error {
  if (!(error instanceof Error)) return new Error(String(error))
  // ioredis wraps a redirection it gave up on: "Too many Cluster redirections. Last error: ReplyError: CLUSTERDOWN ..."
  const reply = /(?:^|Last error: (?:ReplyError: )?)(CLUSTERDOWN|TRYAGAIN|MOVED|ASK)\b/.exec(error.message)?.[1]
  return reply === undefined ? error : new RedisClusterError(reply as RedisClusterError['reply'], error)
}
