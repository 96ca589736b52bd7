/**
 * `--redis <url> --name <name>`: the Redis tier a command works on instead of a directory. Loads
 * ioredis lazily (a `PeerMissingError` naming it when absent, exit 69), connects without retrying
 * (a server that does not answer is exit 69), and reads the name's config (`wb:<name>:cfg`; no
 * config: no such cache, exit 66). Reads nothing else and writes nothing.
 */
import { PeerMissingError } from '../errors.js'
import type { IoRedisLike } from '../tier/redis/ioredis-client.js'
import { RedisLayout } from '../tier/redis/layout.js'
import { UsageError } from './args.js'
import { CliError, EXIT } from './exit-codes.js'

/** The target of a command: a dir, or a Redis tier by URL and name. */
export type Target = { readonly dir: string } | { readonly redis: { readonly url: string; readonly name: string } }

/** Checks that exactly one of `<dir>` and `--redis` is given, and `--name` goes with `--redis`. */
export function targetOf(dir: string | undefined, url: string | undefined, name: string | undefined, command: string): Target {
  if (dir !== undefined && url !== undefined) throw new UsageError(`${command} takes a directory or --redis, not both`)
  if (url === undefined && name !== undefined) throw new UsageError('--name goes with --redis <url>')
  if (url !== undefined) {
    if (name === undefined) throw new UsageError('--redis needs --name <name> (the cache name the app passes to new RedisTier)')
    if (!/^rediss?:\/\//.test(url)) throw new UsageError(`--redis must be a redis:// or rediss:// URL (got "${url}")`)
    return { redis: { url, name } }
  }
  if (dir === undefined) throw new UsageError(`${command} needs a directory, or --redis <url> --name <name>`)
  return { dir }
}

/** A connected client and the layout of the named cache. */
export interface RedisTarget {
  readonly client: IoRedisLike & { disconnect(): void }
  readonly layout: RedisLayout
  readonly format: number
  readonly url: string
}

interface IoRedisModule {
  Redis: new (url: string, options: Record<string, unknown>) => IoRedisLike & { connect(): Promise<void>; disconnect(): void; on(event: string, listener: () => void): unknown }
}

/** Connects to `url` and reads the cache `name`'s layout; the caller disconnects. */
export async function openRedisTarget(url: string, name: string): Promise<RedisTarget> {
  const { Redis } = await loadIoRedis()
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false })
  client.on('error', () => {})
  try {
    await client.connect()
  } catch (error) {
    client.disconnect()
    throw new CliError(EXIT.UNAVAILABLE, `cannot reach Redis at ${redact(url)}: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
  }
  try {
    const [shards, format] = (await client.call('HMGET', `wb:${name}:cfg`, 'shards', 'format')) as Array<string | null>
    if (shards === null || shards === undefined) throw new CliError(EXIT.NO_INPUT, `no cache named "${name}" in Redis at ${redact(url)} (no wb:${name}:cfg)`)
    return { client, layout: new RedisLayout(name, Number(shards)), format: Number(format), url: redact(url) }
  } catch (error) {
    client.disconnect()
    throw error
  }
}

async function loadIoRedis(): Promise<IoRedisModule> {
  try {
    return await import('ioredis')
  } catch (cause) {
    if ((cause as { code?: unknown } | null)?.code === 'ERR_MODULE_NOT_FOUND') throw new CliError(EXIT.UNAVAILABLE, new PeerMissingError('ioredis', '--redis').message, { cause })
    throw cause
  }
}

/** The URL without its password. */
function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')
}
