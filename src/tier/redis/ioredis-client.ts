/**
 * The client port (`client-port.ts`) over an ioredis client the user passes in. It declares the
 * few ioredis methods it calls as a structural type, so ioredis stays an optional peer dependency
 * and its types are never imported (STYLE.md, "don't depend on a driver's types").
 */
import type { RedisServerPort, ScriptCall, WaitedReplies } from './client-port.js'
import { evalArgs, waitCommand, waitCounts } from './client-port.js'
import { OneServerPort, serverPort } from './one-server-port.js'

/** The subset of an ioredis pipeline used here. */
export interface IoRedisPipelineLike {
  call(command: string, ...args: Array<string | number>): unknown
  exec(): Promise<Array<[Error | null, unknown]> | null>
}

/** The subset of an ioredis `Redis` client used here (standalone or Sentinel). */
export interface IoRedisLike {
  call(command: string, ...args: Array<string | number>): Promise<unknown>
  /** `call`, answering bulk strings as Buffers. */
  callBuffer(command: string, ...args: Array<string | number>): Promise<unknown>
  pipeline(): IoRedisPipelineLike
}

export class IoRedisClient extends OneServerPort {
  constructor(private readonly client: IoRedisLike) {
    super()
  }

  protected evalsha(call: ScriptCall): Promise<unknown> {
    return call.binary === true ? this.client.callBuffer('EVALSHA', ...evalArgs(call)) : this.client.call('EVALSHA', ...evalArgs(call))
  }

  protected send(args: string[]): Promise<unknown> {
    const [command, ...rest] = args as [string, ...string[]]
    return this.client.call(command, ...rest)
  }

  primaries(): Promise<RedisServerPort[]> {
    return Promise.resolve([ioredisServerPort('the Redis server', this.client)])
  }

  protected async pipelined(calls: readonly ScriptCall[], replicas: number, timeoutMs: number, aof: boolean): Promise<WaitedReplies> {
    const pipeline = this.client.pipeline()
    for (const call of calls) pipeline.call('EVALSHA', ...evalArgs(call))
    pipeline.call(...waitCommand(replicas, timeoutMs, aof))
    const results = await pipeline.exec()
    if (results === null) throw new Error('the Redis pipeline was discarded')
    const waited = results.at(-1)
    if (waited === undefined || waited[0] !== null) throw waited?.[0] ?? new Error('WAIT got no reply')
    const counted = waitCounts(waited[1], aof)
    return { replies: results.slice(0, -1).map(([error, value]) => (error === null ? { ok: true as const, value, ...counted } : { ok: false as const, error })) }
  }
}

/** The server checks (`serverPort`) over an ioredis connection (a standalone client or a Cluster's node). */
export function ioredisServerPort(address: string, client: IoRedisLike): RedisServerPort {
  return serverPort(address, ([command, ...args]) => client.call(command as string, ...args))
}
