/**
 * The options of `new RedisTier()`, their defaults (`REDIS_TIER_DEFAULTS`, which the README's
 * "Redis tier" table repeats) and their check at the door.
 */
import { InvalidOptionError } from '../../errors.js'
import { checkNumber, checkString, invalid } from '../../validate/check.js'
import type { IoRedisLike } from './ioredis-client.js'
import type { NodeRedisLike } from './node-redis-client.js'

export const REDIS_TIER_DEFAULTS = Object.freeze({ shards: 16, leaseMs: 10_000, replicas: 1, replicaTimeoutMs: 1000, replicaWait: 'wait', commandTimeoutMs: 5000 } as const)

/** A client the tier takes: ioredis (`Redis`, `Redis.Cluster`), or a connected node-redis client (`createClient()`). */
export type RedisClientLike = IoRedisLike | NodeRedisLike

export interface RedisTierOptions {
  /**
   * Your client. ioredis: `new Redis(url)` on the primary (or Sentinel), or `new Redis.Cluster(nodes)`
   * on a Redis Cluster (each shard then lives on one primary). node-redis: `await createClient({ url
   * }).connect()`, one server (its Cluster, Sentinel and pool clients are refused). Closing it is
   * yours, after `cache.close()`.
   */
  client: RedisClientLike
  /** The cache's name in Redis: every process opening the same name shares one cache. Letters, digits, `_`, `-`, `.` and `:`. */
  name: string
  /**
   * Logical shards, fixed when the name is first used (an instance asking for another count refuses
   * to start). Each has its own dirty set, lease and cap. @default 16 (REDIS_TIER_DEFAULTS.shards)
   */
  shards?: number
  /**
   * How long a flushing instance holds a shard's lease without renewing it. It renews at each
   * claim, and every `leaseMs / 3` while a batch of the shard is in flight (lease-keeper.ts).
   * @default 10_000 (REDIS_TIER_DEFAULTS.leaseMs)
   */
  leaseMs?: number
  /** Durability `replicated`: replicas that must acknowledge a write (WAIT). @default 1 (REDIS_TIER_DEFAULTS.replicas) */
  replicas?: number
  /** Durability `replicated`: how long WAIT waits for them before the write is reported not confirmed. @default 1000 (REDIS_TIER_DEFAULTS.replicaTimeoutMs) */
  replicaTimeoutMs?: number
  /**
   * Durability `replicated`: what a write waits for. `'wait'` (WAIT): `replicas` replicas received
   * it. `'waitaof'` (WAITAOF 1 replicas): the primary and `replicas` replicas also fsynced it to
   * their append-only files, so it survives the primary and those replicas restarting at once; it
   * needs a server with WAITAOF (Redis 7.2+, Valkey) and `appendonly yes` on the primary, else
   * `open()` rejects with `RedisConfigError` (and the replicas need `appendonly yes` to count).
   * @default 'wait' (REDIS_TIER_DEFAULTS.replicaWait)
   */
  replicaWait?: 'wait' | 'waitaof'
  /**
   * How long the tier waits for Redis to answer a call before the caller gets
   * `RedisUnavailableError` (a write: `applied: 'unknown'`, it may still apply once Redis answers).
   * It bounds a paused or partitioned Redis, which keeps the connection open so that the client
   * never gives up; a `replicated` write (and any call made while its WAIT holds the connection)
   * waits this long past `replicaTimeoutMs`. Calls are a few
   * keys' scripts that Redis answers in well under a millisecond, so the default leaves room for a
   * fork or a slow disk stalling the server, a Cluster's redirections (up to 3 s) and a short
   * reconnect, while a stalled server is reported within seconds, not never.
   * @default 5000 (REDIS_TIER_DEFAULTS.commandTimeoutMs)
   */
  commandTimeoutMs?: number
}

export type ResolvedRedisTierOptions = Required<RedisTierOptions>

const NAME = /^[A-Za-z0-9_.:-]{1,64}$/

export function resolveRedisTierOptions(options: RedisTierOptions): ResolvedRedisTierOptions {
  if (typeof options !== 'object' || options === null) throw invalid('RedisTier options', 'an object such as { client, name }', options)
  checkClient(options.client)
  const name = checkString(options.name, 'name')
  if (name === undefined || !NAME.test(name)) throw invalid('name', 'a name of 1 to 64 letters, digits, _ - . or : (no braces)', options.name)
  return {
    client: options.client,
    name,
    shards: checkNumber(options.shards, 'shards', { min: 1, integer: true }) ?? REDIS_TIER_DEFAULTS.shards,
    leaseMs: checkNumber(options.leaseMs, 'leaseMs', { min: 100, integer: true }) ?? REDIS_TIER_DEFAULTS.leaseMs,
    replicas: checkNumber(options.replicas, 'replicas', { min: 1, integer: true }) ?? REDIS_TIER_DEFAULTS.replicas,
    replicaTimeoutMs: checkNumber(options.replicaTimeoutMs, 'replicaTimeoutMs', { min: 0, integer: true }) ?? REDIS_TIER_DEFAULTS.replicaTimeoutMs,
    replicaWait: replicaWait(options.replicaWait),
    commandTimeoutMs: checkNumber(options.commandTimeoutMs, 'commandTimeoutMs', { min: 100, integer: true }) ?? REDIS_TIER_DEFAULTS.commandTimeoutMs,
  }
}

function replicaWait(value: unknown): 'wait' | 'waitaof' {
  if (value === undefined) return REDIS_TIER_DEFAULTS.replicaWait
  if (value === 'wait' || value === 'waitaof') return value
  throw invalid('replicaWait', "'wait' or 'waitaof'", value)
}

const CLIENT = 'an ioredis client (new Redis(url) or new Redis.Cluster(nodes)) or a connected node-redis client (await createClient({ url }).connect())'

/** Whether `client` is a node-redis client (`createClient()`), as opposed to an ioredis one. */
export function isNodeRedis(client: RedisClientLike): client is NodeRedisLike {
  const candidate = client as Partial<IoRedisLike & NodeRedisLike>
  return typeof candidate.call !== 'function' && typeof candidate.sendCommand === 'function'
}

/**
 * node-redis clients the tier does not take: `createCluster()`, `createSentinel()` and
 * `createClientPool()` answer `sendCommand` too, with other arguments. Each: how to tell it, what it
 * is, what to pass instead.
 */
const REFUSED: ReadonlyArray<readonly [(client: Record<string, unknown>) => boolean, string, string]> = [
  [(c) => typeof c.nodeClient === 'function' || typeof c.getSlotMaster === 'function', 'a node-redis Cluster (createCluster())', "for a Redis Cluster use ioredis's new Redis.Cluster(nodes)"],
  [(c) => typeof c.getMasterNode === 'function', 'a node-redis Sentinel client (createSentinel())', "for Sentinel use ioredis's new Redis({ sentinels, name })"],
  [(c) => typeof c.execute === 'function', 'a node-redis pool (createClientPool())', 'pass one client: await createClient({ url }).connect()'],
  [(c) => c.isOpen !== true, 'a node-redis client that is not connected', 'connect it first (await client.connect())'],
]

/** Throws `InvalidOptionError` (`client`) unless `client` is one the tier can use. */
function checkClient(client: unknown): void {
  const candidate = (typeof client === 'object' && client !== null ? client : {}) as Record<string, unknown>
  if (typeof candidate.call === 'function' && typeof candidate.pipeline === 'function') return // ioredis
  if (typeof candidate.sendCommand !== 'function') throw invalid('client', CLIENT, client)
  const refused = REFUSED.find(([is]) => is(candidate))
  if (refused !== undefined) throw new InvalidOptionError('client', `client must be ${CLIENT}, got ${refused[1]}; ${refused[2]}`)
}
