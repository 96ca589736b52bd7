/**
 * `redis-script-limit`: a probe of the Redis tier's own limit, not a system. The tier's write
 * script (value, version, dirty mark and the shard's dirty index, `src/tier/redis/scripts.ts`)
 * called through the tier's own client port by the driver's W awaited writers, the same keys,
 * arrival and concurrency as the systems, on a Redis of the benchmark's own (bench/lib/own-redis.ts),
 * with no cache around it and nothing flushing. What a `memory` write costs at least: a system's
 * writes/s and ack p99 are read as ratios to this, taken in the same run.
 */
import type { LoadOptions, LoadResult } from './driver.js'
import { runLoad } from './driver.js'
import { startBenchRedis } from './lib/own-redis.js'
import { LIMIT } from './lib/redis-report.js'
import type { BenchSystem } from './systems/types.js'
import type { Workload } from './workloads.js'
import { Redis } from 'ioredis'

export const SCRIPT_LIMIT = LIMIT

type Port = typeof import('../src/tier/redis/ioredis-client.js')
type Layout = typeof import('../src/tier/redis/layout.js')
type Scripts = typeof import('../src/tier/redis/scripts.js')
// Loaded when the probe runs (like the systems' engines), so that the rest of the harness still runs while someone is mid-edit in the tier.
const PORT = '../src/tier/redis/ioredis-client.js'
const LAYOUT = '../src/tier/redis/layout.js'
const SCRIPTS = '../src/tier/redis/scripts.js'

/** The tier's default shard count and per-shard cap for a backlog of 1M entries. */
const SHARDS = 16
const CAP = Math.ceil(1_000_000 / SHARDS)

export async function measureScriptLimit(workload: Workload, options: LoadOptions): Promise<LoadResult> {
  const { IoRedisClient } = (await import(PORT)) as Port
  const { RedisLayout } = (await import(LAYOUT)) as Layout
  const { WRITE } = (await import(SCRIPTS)) as Scripts
  const server = await startBenchRedis()
  const client = new Redis(server.url, { maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  try {
    const port = new IoRedisClient(client)
    const layout = new RedisLayout('limit', SHARDS)
    await port.load(WRITE)
    const probe: BenchSystem = {
      name: SCRIPT_LIMIT,
      setup: () => Promise.reject(new Error('not used')),
      async write(key, value) {
        const shard = layout.shardOf(key)
        await port.run({ script: WRITE, keys: [layout.entry(shard, key), layout.dirty(shard), layout.vers(shard), layout.meta(shard)], args: [key, JSON.stringify(value), '0', CAP, '0'] })
      },
      drain: () => Promise.resolve(),
      dbStats: () => ({ statements: 0, rows: 0 }),
      teardown: () => Promise.resolve(),
    }
    return await runLoad(probe, workload, options)
  } finally {
    client.disconnect()
    await server.stop()
  }
}
