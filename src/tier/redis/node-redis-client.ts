/**
 * The client port (`client-port.ts`) over a node-redis client (the `redis` package, 4 to 6) the user
 * passes in: `await createClient({ url }).connect()`, one server. Like the ioredis port it declares
 * the few members it calls as a structural type, so `redis` stays an optional peer dependency and
 * its types are never imported. A node-redis Cluster, Sentinel or pool is refused at the door
 * (`options.ts`).
 *
 * Every command goes through `sendCommand` with its own reply mapping: bulk strings as Buffers for
 * a call that packs its reply (`call.binary`, `msgpack.ts`), as strings otherwise, whatever the
 * client's own mapping (`typeMapping` on node-redis 5+, `returnBuffers` on 4).
 *
 * `runThenWait` sends its calls and the WAIT under one `chainId`, node-redis's own way to keep a
 * pipeline together on the one connection (what `multi().execAsPipeline()` does, which answers
 * only the first error): a chain not yet written waits whole in the offline queue while the client
 * reconnects, and one cut by a lost connection after it was partly written is rejected, never
 * finished on the next connection, so the WAIT never counts for writes made on another one (node-redis
 * 5+ rejects the rest of such a chain; 4 drops it unanswered, and the tier's `commandTimeoutMs`
 * then ends the wait, `deadline-port.ts`).
 *
 * Errors: a server's error reply (node-redis's `ErrorReply`: a script's error, OOM, NOSCRIPT,
 * READONLY…) becomes a `ServerReplyError`, named `ReplyError` as ioredis's is, so the tier
 * classifies both clients' replies alike (`isReplyError`); the original is its `cause`. Anything
 * else (the client closed, the socket lost, node-redis's own command timeout while it reconnects)
 * passes as it is and reaches the caller as `RedisUnavailableError` (`unanswered.ts`).
 */
import type { RedisServerPort, ScriptCall, WaitedReplies } from './client-port.js'
import { evalArgs, waitCommand, waitCounts } from './client-port.js'
import { OneServerPort, serverPort } from './one-server-port.js'

/** The options of `sendCommand` used here (node-redis `CommandOptions`). */
export interface NodeRedisCommandOptions {
  /** Commands of one chain are written together, in order, on one connection. */
  readonly chainId?: symbol
  /** RESP type (its first byte's code) to the JavaScript type it is read as (node-redis 5+). */
  readonly typeMapping?: Readonly<Record<number, unknown>>
  /** Bulk strings as Buffers (node-redis 4; 5+ ignores it). */
  readonly returnBuffers?: boolean
}

/** The subset of a node-redis client (`createClient()`) used here. */
export interface NodeRedisLike {
  /** Whether `connect()` was called and the client was not closed since (it may be reconnecting). */
  readonly isOpen: boolean
  readonly isReady: boolean
  sendCommand(args: string[], options?: NodeRedisCommandOptions): Promise<unknown>
}

/** RESP's blob string type (`$`), read as a Buffer for a binary call. */
const BLOB_STRING = 36
const BUFFERS: NodeRedisCommandOptions = Object.freeze({ typeMapping: Object.freeze({ [BLOB_STRING]: Buffer }), returnBuffers: true })
/** The default mapping (bulk strings as strings), set explicitly so a client's own mapping does not apply. */
const STRINGS: NodeRedisCommandOptions = Object.freeze({ typeMapping: Object.freeze({}) })

/**
 * A Redis server's error reply, as node-redis gave it (`cause`). Named `ReplyError`, as ioredis
 * names its own, so the tier classifies both clients' replies alike.
 */
export class ServerReplyError extends Error {
  override readonly name = 'ReplyError'
}

type Reply = WaitedReplies['replies'][number]

export class NodeRedisClient extends OneServerPort {
  constructor(private readonly client: NodeRedisLike) {
    super()
  }

  primaries(): Promise<RedisServerPort[]> {
    return Promise.resolve([serverPort('the Redis server', (args) => this.send(args))])
  }

  protected evalsha(call: ScriptCall): Promise<unknown> {
    return this.send(['EVALSHA', ...evalArgs(call).map(String)], call.binary === true ? BUFFERS : STRINGS)
  }

  /** The calls, then the WAIT, as one chain; each call's reply or error, the WAIT's count on each success. */
  protected async pipelined(calls: readonly ScriptCall[], replicas: number, timeoutMs: number, aof: boolean): Promise<WaitedReplies> {
    const chainId = Symbol('writebehind runThenWait')
    const sent = calls.map((call) =>
      this.send(['EVALSHA', ...evalArgs(call).map(String)], { ...(call.binary === true ? BUFFERS : STRINGS), chainId }).then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error: error instanceof Error ? error : new Error(String(error)) }),
      ),
    )
    const waited = this.send(waitCommand(replicas, timeoutMs, aof).map(String), { ...STRINGS, chainId })
    const [results, reply] = await Promise.all([Promise.all(sent), waited])
    const counted = waitCounts(reply, aof)
    return { replies: results.map((r): Reply => (r.ok ? { ...r, ...counted } : r)) }
  }

  protected async send(args: string[], options: NodeRedisCommandOptions = STRINGS): Promise<unknown> {
    try {
      return await this.client.sendCommand(args, options)
    } catch (error) {
      throw replyError(error)
    }
  }
}

/** `error` as a `ServerReplyError` when it is a server's error reply (node-redis `ErrorReply`), else as it is. */
export function replyError(error: unknown): unknown {
  if (!(error instanceof Error) || !isErrorReply(error)) return error
  return new ServerReplyError(error.message, { cause: error })
}

/** node-redis answers a server's error as an `ErrorReply` (`SimpleError`, `BlobError`); its own errors are other classes. */
function isErrorReply(error: Error): boolean {
  for (let proto: unknown = Object.getPrototypeOf(error); proto !== null && proto !== Error.prototype; proto = Object.getPrototypeOf(proto)) {
    if ((proto as { constructor?: { name?: string } }).constructor?.name === 'ErrorReply') return true
  }
  return false
}
