/**
 * `--redis <url> --name <name>`, or `--redis-cluster <host:port,…> --name <name>`: the Redis tier
 * a command works on instead of a directory. Loads ioredis lazily (a `PeerMissingError` naming it
 * when absent, exit 69), connects without retrying (a server or cluster that does not answer is exit
 * 69), and reads the name's config (`wb:<name>:cfg`; no config: no such cache, exit 66). Reads
 * nothing else and writes nothing.
 *
 * Every step waits for Redis at most `--timeout-ms` (default: the tier's `commandTimeoutMs`, 5000):
 * a paused or stalled server keeps the connection open and ioredis would wait for ever, so a step
 * not answered in time ends the command with exit 69 and a message saying what that step may have
 * done (`within`). A step is one round of calls sent together (the connection, the config, one
 * pipeline or script per shard in parallel), so each call is bounded.
 *
 * A Cluster is named by seed nodes, as `redis-cli --cluster` and ioredis's `new Cluster(nodes)` take
 * them: `host:port`, comma-separated (one is enough, the rest are found from it), or
 * `redis://[user:password@]host:port` for credentials, which then go to every node.
 */
import { PeerMissingError } from '../errors.js'
import { DeadlinePort, RedisTimeoutError } from '../tier/redis/deadline-port.js'
import type { RedisClientPort } from '../tier/redis/client-port.js'
import type { IoRedisLike } from '../tier/redis/ioredis-client.js'
import { ioredisPort } from '../tier/redis/ioredis-cluster-client.js'
import { RedisLayout } from '../tier/redis/layout.js'
import { REDIS_TIER_DEFAULTS } from '../tier/redis/options.js'
import { numberOption, stringOption, UsageError, type ParsedArgs } from './args.js'
import { CliError, EXIT } from './exit-codes.js'

/**
 * Where the tier is: one server's URL, or a Cluster's seed nodes; the cache's name; and how long a
 * step waits for Redis (`--timeout-ms`).
 */
export type RedisWhere = { readonly name: string; readonly timeoutMs: number } & (
  { readonly url: string; readonly nodes?: undefined } | { readonly nodes: readonly string[]; readonly url?: undefined }
)

/** The target of a command: a dir, or a Redis tier by URL (or Cluster nodes) and name. */
export type Target = { readonly dir: string } | { readonly redis: RedisWhere }

/** The flags that name a Redis tier (for a command's list of the options it takes). */
export const REDIS_FLAGS = ['redis', 'redis-cluster', 'name', 'timeout-ms'] as const

/** Checks that exactly one of `<dir>`, `--redis` and `--redis-cluster` is given, and `--name` goes with the last two. */
export function targetOf(dir: string | undefined, parsed: ParsedArgs, command: string): Target {
  const url = stringOption(parsed, 'redis')
  const cluster = stringOption(parsed, 'redis-cluster')
  const name = stringOption(parsed, 'name')
  const timeout = numberOption(parsed, 'timeout-ms')
  if (url !== undefined && cluster !== undefined) throw new UsageError('--redis and --redis-cluster name the tier two ways: give one')
  const flag = url !== undefined ? '--redis' : '--redis-cluster'
  if (dir !== undefined && (url ?? cluster) !== undefined) throw new UsageError(`${command} takes a directory or ${flag}, not both`)
  if (url === undefined && cluster === undefined) {
    if (name !== undefined) throw new UsageError('--name goes with --redis <url> (or --redis-cluster <nodes>)')
    if (timeout !== undefined) throw new UsageError('--timeout-ms goes with --redis <url> (or --redis-cluster <nodes>)')
    if (dir === undefined) throw new UsageError(`${command} needs a directory, or --redis <url> --name <name>, or --redis-cluster <host:port,...> --name <name>`)
    return { dir }
  }
  if (name === undefined) throw new UsageError(`${flag} needs --name <name> (the cache name the app passes to new RedisTier)`)
  const timeoutMs = timeout ?? REDIS_TIER_DEFAULTS.commandTimeoutMs
  if (url !== undefined) {
    if (!/^rediss?:\/\//.test(url)) throw new UsageError(`--redis must be a redis:// or rediss:// URL (got "${url}"); for a Cluster use --redis-cluster host:port[,host:port...]`)
    return { redis: { url, name, timeoutMs } }
  }
  return { redis: { nodes: clusterNodes(cluster as string), name, timeoutMs } }
}

/** `host:port[,host:port...]` (or `redis://…` entries) as a list, each checked. */
function clusterNodes(list: string): string[] {
  const nodes = list.split(',').map((node) => node.trim())
  for (const node of nodes) {
    if (!/^rediss?:\/\/\S+$/.test(node) && !/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/.test(node)) {
      throw new UsageError(`--redis-cluster takes host:port[,host:port...] (or redis://[user:password@]host:port entries); "${node}" is neither`)
    }
  }
  return nodes
}

/** A connected client (a `Redis`, or a `Cluster` for `--redis-cluster`) and the layout of the named cache. */
export interface RedisTarget {
  readonly client: IoRedisLike & { disconnect(): void }
  readonly layout: RedisLayout
  readonly format: number
  /** How output names the tier: the URL, or `cluster host:port,…`, without passwords. */
  readonly url: string
  /** `--timeout-ms`: how long a step waits for Redis (a cache the command opens gets it as `commandTimeoutMs`). */
  readonly timeoutMs: number
  /** The tier's port on `client`, for the scripts a command runs (`dlq drop --yes`); bound its calls with `within`. */
  readonly port: RedisClientPort
  /**
   * `step` (calls on `client` or `port`), or a `CliError` (exit 69) once Redis has not answered it
   * within `timeoutMs`: the message names the server and the timeout, and ends with `unanswered`,
   * what the step may have done (the calls stay queued: Redis may still run them when it wakes).
   */
  readonly within: <T>(step: Promise<T>, unanswered?: string) => Promise<T>
}

type IoRedisClient = IoRedisLike & { connect(): Promise<void>; disconnect(): void; on(event: string, listener: () => void): unknown }

interface IoRedisModule {
  Redis: new (url: string, options: Record<string, unknown>) => IoRedisClient
  Cluster: new (nodes: string[], options: Record<string, unknown>) => IoRedisClient
}

/** Connects to the tier `where` names and reads its layout; the caller disconnects. */
export async function openRedisTarget(where: RedisWhere): Promise<RedisTarget> {
  const io = await loadIoRedis()
  const shown = where.url !== undefined ? redact(where.url) : `cluster ${where.nodes.map(redact).join(',')}`
  const once = { maxRetriesPerRequest: 0, retryStrategy: () => null }
  const client =
    where.url !== undefined
      ? new io.Redis(where.url, { lazyConnect: true, enableOfflineQueue: false, ...once })
      : new io.Cluster([...where.nodes], { lazyConnect: true, enableOfflineQueue: false, clusterRetryStrategy: () => null, redisOptions: { ...once, ...credentials(where.nodes[0] as string) } })
  client.on('error', () => {})
  const deadline = new DeadlinePort(ioredisPort(client), where.timeoutMs)
  const within = <T>(step: Promise<T>, unanswered = 'Nothing was changed.'): Promise<T> =>
    deadline.bound(step).catch((error: unknown) => {
      if (!(error instanceof RedisTimeoutError)) throw error
      throw new CliError(EXIT.UNAVAILABLE, `Redis at ${shown} did not answer within ${where.timeoutMs} ms (--timeout-ms): it may be paused, stalled or cut off. ${unanswered}`, { cause: error })
    })
  try {
    await within(client.connect())
  } catch (error) {
    client.disconnect()
    if (error instanceof CliError) throw error
    throw new CliError(EXIT.UNAVAILABLE, `cannot reach Redis at ${shown}: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
  }
  try {
    const { name } = where
    const [shards, format] = (await within(client.call('HMGET', `wb:${name}:cfg`, 'shards', 'format'))) as Array<string | null>
    if (shards === null || shards === undefined) throw new CliError(EXIT.NO_INPUT, `no cache named "${name}" in Redis at ${shown} (no wb:${name}:cfg)`)
    return { client, layout: new RedisLayout(name, Number(shards)), format: Number(format), url: shown, timeoutMs: where.timeoutMs, port: deadline, within }
  } catch (error) {
    client.disconnect()
    throw error
  }
}

/** The user and password of a `redis://user:password@host:port` seed, for every node of the Cluster. */
function credentials(node: string): { username?: string; password?: string } {
  if (!/^rediss?:\/\//.test(node)) return {}
  const url = new URL(node)
  return {
    ...(url.username === '' ? {} : { username: decodeURIComponent(url.username) }),
    ...(url.password === '' ? {} : { password: decodeURIComponent(url.password) }),
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
