/**
 * writebehind/redis: the Redis tier. Values and the dirty set live in Redis, so any number of
 * processes share one cache and any of them may flush:
 *
 *   const cache = await WriteBehindCache.open({ store, tier: new RedisTier({ client: new Redis(url), name: 'scores' }) })
 *
 * ioredis and node-redis (`redis`) are optional peer dependencies: pass your own client (ioredis:
 * `new Redis(url)`, or `new Redis.Cluster(nodes)`; node-redis: `await createClient({ url }).connect()`).
 */
import { registerTierOpener } from './core/cache-modes.js'
import { openRemote } from './core/remote/open-remote.js'

registerTierOpener(openRemote)

export { RedisTier, type TierContext } from './tier/redis/redis-tier.js'
export { REDIS_TIER_DEFAULTS, type RedisClientLike, type RedisTierOptions } from './tier/redis/options.js'
export type { IoRedisLike, IoRedisPipelineLike } from './tier/redis/ioredis-client.js'
export type { IoRedisClusterLike, IoRedisNodeLike } from './tier/redis/ioredis-cluster-client.js'
export { ServerReplyError, type NodeRedisCommandOptions, type NodeRedisLike } from './tier/redis/node-redis-client.js'
export { ReplicationNotConfirmedError, RedisClusterError, RedisConfigError, RedisUnavailableError, type RedisOperation } from './errors.js'
export { RedisTimeoutError } from './tier/redis/deadline-port.js'
