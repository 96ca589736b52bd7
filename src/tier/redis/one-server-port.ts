/**
 * What a port on one server (standalone or Sentinel) does the same whatever its client: a script
 * missing from the server's cache (`NOSCRIPT`) is loaded and run once more, counted in `reloads`;
 * and the server checks (`serverPort`). Each client's port says only how it sends an EVALSHA, a
 * pipeline ending in WAIT, and a plain command (`ioredis-client.ts`, `node-redis-client.ts`).
 */
import type { RedisClientPort, RedisScript, RedisServerPort, ScriptCall, WaitedReplies } from './client-port.js'
import { isNoScript } from './client-port.js'

export abstract class OneServerPort implements RedisClientPort {
  reloads = 0

  /** One EVALSHA of `call`; rejects with the server's error reply as it is. */
  protected abstract evalsha(call: ScriptCall): Promise<unknown>
  /** `calls`, then `WAIT`/`WAITAOF`, on the one connection (`RedisClientPort.runThenWait`, without the reload). */
  protected abstract pipelined(calls: readonly ScriptCall[], replicas: number, timeoutMs: number, aof: boolean): Promise<WaitedReplies>
  /** One plain command. */
  protected abstract send(args: string[]): Promise<unknown>
  abstract primaries(): Promise<RedisServerPort[]>

  async run(call: ScriptCall): Promise<unknown> {
    try {
      return await this.evalsha(call)
    } catch (error) {
      if (!isNoScript(error)) throw error
      this.reloads++
      await this.load(call.script)
      return await this.evalsha(call)
    }
  }

  async runThenWait(calls: readonly ScriptCall[], replicas: number, timeoutMs: number, aof = false): Promise<WaitedReplies> {
    const first = await this.pipelined(calls, replicas, timeoutMs, aof)
    const missing = first.replies.flatMap((r, i) => (!r.ok && isNoScript(r.error) ? [i] : []))
    if (missing.length === 0) return first
    this.reloads++
    // Scripts gone from the cache (a restart, a promoted replica): load them and run only those again.
    for (const script of new Set(missing.map((i) => (calls[i] as ScriptCall).script))) await this.load(script)
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
    return this.send([command, key, ...args])
  }

  async load(script: RedisScript): Promise<void> {
    await this.send(['SCRIPT', 'LOAD', script.source])
  }
}

/** `INFO`, `CONFIG GET` and `COMMAND INFO` on one server, through `send`. */
export function serverPort(address: string, send: (args: string[]) => Promise<unknown>): RedisServerPort {
  return {
    address,
    info: async (section) => String(await send(['INFO', section])),
    async configGet(name) {
      try {
        const reply = await send(['CONFIG', 'GET', name])
        // RESP2: [name, value]; RESP3 (node-redis): a map, as a Map or an object by the client's mapping.
        const value: unknown = Array.isArray(reply)
          ? reply[1]
          : reply instanceof Map
            ? reply.get(name)
            : typeof reply === 'object' && reply !== null
              ? (reply as Record<string, unknown>)[name]
              : undefined
        return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined
      } catch {
        return undefined
      }
    },
    async hasCommand(command) {
      try {
        const reply = await send(['COMMAND', 'INFO', command])
        return Array.isArray(reply) && Array.isArray(reply[0])
      } catch {
        return false
      }
    },
  }
}
