/**
 * `redis-script-limit`: a probe of the Redis tier's own limit, not a system. The tier's write
 * script (value, version, dirty mark and the shard's dirty index, `src/tier/redis/scripts.ts`)
 * called through the tier's own client port by the driver's W awaited writers, the same keys,
 * arrival and concurrency as the systems, on a Redis of the benchmark's own (bench/lib/own-redis.ts),
 * with no cache around it and nothing flushing. What a `memory` write costs at least: a system's
 * writes/s and ack p99 are read as ratios to this, taken in the same run.
 *
 * `redis-script-limit-4`: the same with the writers split over 4 app processes (16 each,
 * bench/lib/app-fleet.ts), the limit the tier's `-4` systems are read against.
 */
import type { LoadOptions, LoadResult } from './driver.js'
import { runLoad } from './driver.js'
import { AppFleet } from './lib/app-fleet.js'
import { startBenchRedis } from './lib/own-redis.js'
import { LIMIT } from './lib/redis-report.js'
import type { BenchSystem } from './systems/types.js'
import type { Workload } from './workloads.js'
import { Redis } from 'ioredis'

export const SCRIPT_LIMIT = LIMIT
/** The probe with its callers in 4 app processes. */
export const SCRIPT_LIMIT_4 = `${LIMIT}-4`

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

/** The bare write script's callers on the Redis at `url`: what each process of the probe runs. */
export async function scriptCaller(url: string): Promise<{ write: BenchSystem['write']; close(): void }> {
  const { IoRedisClient } = (await import(PORT)) as Port
  const { RedisLayout } = (await import(LAYOUT)) as Layout
  const { WRITE } = (await import(SCRIPTS)) as Scripts
  const client = new Redis(url, { maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  const port = new IoRedisClient(client)
  const layout = new RedisLayout('limit', SHARDS)
  await port.load(WRITE)
  return {
    async write(key, value) {
      const shard = layout.shardOf(key)
      await port.run({ script: WRITE, keys: [layout.entry(shard, key), layout.dirty(shard), layout.vers(shard), layout.meta(shard)], args: [key, JSON.stringify(value), '0', CAP, '0'] })
    },
    close: () => client.disconnect(),
  }
}

/** The probe on a Redis of its own, its writers in this process (`processes` 1) or split over that many app processes. */
export async function measureScriptLimit(workload: Workload, options: LoadOptions, processes = 1): Promise<LoadResult> {
  const server = await startBenchRedis()
  try {
    if (processes > 1) {
      const fleet = new AppFleet(processes, { kind: 'script-limit', url: server.url }, '')
      try {
        return await fleet.run(workload, options)
      } finally {
        await fleet.close()
      }
    }
    const caller = await scriptCaller(server.url)
    try {
      const probe: BenchSystem = {
        name: SCRIPT_LIMIT,
        setup: () => Promise.reject(new Error('not used')),
        write: (key, value) => caller.write(key, value),
        drain: () => Promise.resolve(),
        dbStats: () => ({ statements: 0, rows: 0 }),
        teardown: () => Promise.resolve(),
      }
      return await runLoad(probe, workload, options)
    } finally {
      caller.close()
    }
  } finally {
    await server.stop()
  }
}
