/**
 * Redis plumbing for the Redis-backed peers: the connection URL from the environment and a
 * cleanup that removes one run's keys by prefix (SCAN + UNLINK, never FLUSHDB: the server is shared).
 */
import { Redis } from 'ioredis'

/** Where the benchmark's Redis is; override with WB_REDIS_URL (read at each connection: run-one may point it at a Redis of its own). */
export function redisUrl(): string {
  return process.env.WB_REDIS_URL ?? 'redis://127.0.0.1:6379'
}

/** A new connection; `maxRetriesPerRequest: null` is what BullMQ workers require. */
export function openRedis(): Redis {
  const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null })
  redis.on('error', (err: Error) => console.error(`redis error: ${err.message}`))
  return redis
}

/** A key prefix no other run or test shares. */
export function uniquePrefix(system: string): string {
  return `wbbench:${system}:${process.pid}:${Date.now()}:`
}

/** Deletes every key that starts with `prefix`. */
export async function deleteByPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000)
    if (keys.length > 0) await redis.unlink(...keys)
    cursor = next
  } while (cursor !== '0')
}
