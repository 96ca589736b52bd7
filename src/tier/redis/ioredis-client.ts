/**
 * The client port (`client-port.ts`) over an ioredis client the user passes in. It declares the
 * few ioredis methods it calls as a structural type, so ioredis stays an optional peer dependency
 * and its types are never imported (STYLE.md, "don't depend on a driver's types").
 */
import type { RedisClientPort, RedisScript, RedisServerPort, ScriptCall, WaitedReplies } from './client-port.js'

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

export class IoRedisClient implements RedisClientPort {
  reloads = 0

  constructor(private readonly client: IoRedisLike) {}

  async run(call: ScriptCall): Promise<unknown> {
    try {
      return await this.evalsha(call)
    } catch (error) {
      if (!isNoScript(error)) throw error
      this.reloads++
      await this.client.call('SCRIPT', 'LOAD', call.script.source)
      return await this.evalsha(call)
    }
  }

  private evalsha(call: ScriptCall): Promise<unknown> {
    return call.binary === true ? this.client.callBuffer('EVALSHA', ...evalArgs(call)) : this.client.call('EVALSHA', ...evalArgs(call))
  }

  async runThenWait(calls: readonly ScriptCall[], replicas: number, timeoutMs: number, aof = false): Promise<WaitedReplies> {
    const first = await this.pipelined(calls, replicas, timeoutMs, aof)
    const missing = first.replies.flatMap((r, i) => (!r.ok && isNoScript(r.error) ? [i] : []))
    if (missing.length === 0) return first
    this.reloads++
    // Scripts gone from the cache (a restart, a promoted replica): load them and run only those again.
    for (const source of new Set(missing.map((i) => (calls[i] as ScriptCall).script.source))) await this.client.call('SCRIPT', 'LOAD', source)
    const again = await this.pipelined(
      missing.map((i) => calls[i] as ScriptCall),
      replicas,
      timeoutMs,
      aof,
    )
    const replies = [...first.replies]
    missing.forEach((index, j) => (replies[index] = again.replies[j] as WaitedReplies['replies'][number]))
    return { replies }
  }

  ownerOf(): string {
    return ''
  }

  read(command: string, key: string, ...args: string[]): Promise<unknown> {
    return this.client.call(command, key, ...args)
  }

  async load(script: RedisScript): Promise<void> {
    await this.client.call('SCRIPT', 'LOAD', script.source)
  }

  primaries(): Promise<RedisServerPort[]> {
    return Promise.resolve([serverPort('the Redis server', this.client)])
  }

  private async pipelined(calls: readonly ScriptCall[], replicas: number, timeoutMs: number, aof: boolean): Promise<WaitedReplies> {
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

/** `INFO` and `CONFIG GET` on one server's connection. */
export function serverPort(address: string, client: IoRedisLike): RedisServerPort {
  return {
    address,
    info: async (section) => String(await client.call('INFO', section)),
    async configGet(name) {
      try {
        const reply = await client.call('CONFIG', 'GET', name)
        return Array.isArray(reply) && reply.length >= 2 ? String(reply[1]) : undefined
      } catch {
        return undefined
      }
    },
    async hasCommand(command) {
      try {
        const reply = await client.call('COMMAND', 'INFO', command)
        return Array.isArray(reply) && Array.isArray(reply[0])
      } catch {
        return false
      }
    },
  }
}

/** The command that ends a `replicated` pipeline: `WAIT replicas timeout`, or `WAITAOF 1 replicas timeout` (`aof`). */
export function waitCommand(replicas: number, timeoutMs: number, aof: boolean): [string, ...number[]] {
  return aof ? ['WAITAOF', 1, replicas, timeoutMs] : ['WAIT', replicas, timeoutMs]
}

/** What a WAIT (a count) or a WAITAOF (`[local, replicas]`) reply confirmed. */
export function waitCounts(reply: unknown, aof: boolean): { replicas: number; local?: boolean } {
  if (!aof) return { replicas: Number(reply) }
  const [local, fsynced] = reply as [number, number]
  return { replicas: Number(fsynced), local: Number(local) >= 1 }
}

export function evalArgs(call: ScriptCall): Array<string | number> {
  return [call.script.sha, call.keys.length, ...call.keys, ...call.args]
}

export function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT')
}
