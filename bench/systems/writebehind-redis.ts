/**
 * writebehind-redis[-cluster]-<level>[-<N>]: writebehind on a Redis tier at durability `memory` or
 * `replicated`, flushing into PostgreSQL through its PostgresStore, on a Redis of the benchmark's
 * own (a primary, plus one replica for `replicated`, started here on free ports and stopped by pid:
 * bench/lib/own-redis.ts), or with `-cluster` on a Redis Cluster of its own (3 primaries + 3
 * replicas, test/helpers/own-cluster.ts; the tier with `CLUSTER_SHARDS` shards, 16 per primary). With one app process the harness drives this process's cache; with N,
 * `runLoad` starts N app processes (bench/lib/app-fleet.ts), each opening a cache on the same tier
 * name with W/N of the writers, and merges what they acknowledged. Each app process writes its own
 * key space (`a<i>:` before the workload's keys) so that the final-state check stays exact; they
 * share the tier's shards, leases and flushing. The drain is this process's `cache.flush()`, which
 * covers every instance's writes, beside the app processes' own closes (each drains too).
 */
import { Cluster, Redis } from 'ioredis'
import type { CacheOptions } from '../../src/contracts/options.js'
import type { LoadOptions, LoadResult } from '../driver.js'
import { AppFleet } from '../lib/app-fleet.js'
import { CountingPool, openPool, tableFor, type WriteCounters } from '../lib/pg.js'
import { startBenchRedis, type BenchRedis } from '../lib/own-redis.js'
import { startOwnCluster, type OwnCluster } from '../../test/helpers/own-cluster.js'
import type { Workload } from '../workloads.js'
import type { BenchSystem, BenchValue, TableInfo } from './types.js'

export type RedisLevel = 'memory' | 'replicated'

type Engine = typeof import('../../src/core/write-behind-cache.js')
type Postgres = typeof import('../../src/stores/sql/postgres/index.js')
type Tier = typeof import('../../src/redis.js')
type Cache = Awaited<ReturnType<Engine['WriteBehindCache']['open']>>

const ENGINE = '../../src/core/write-behind-cache.js'
const POSTGRES = '../../src/stores/sql/postgres/index.js'
const TIER = '../../src/redis.js'
const CONNECTIONS = 4
/** Flush settings that flush nothing within a benchmark's load (an hour), until `flush()`. */
const HELD = { intervalMs: 3_600_000, maxDelayMs: 3_600_000, triggerEntries: 1_000_000 }
/** The tier's name in the benchmark's own Redis (a fresh server per measurement). */
export const TIER_NAME = 'bench'
/** Shards of the tier on the benchmark's cluster: 16 per primary (REDIS-TIER.md asks for at least 8). */
export const CLUSTER_SHARDS = 48

/** Where the tier lives: one server's URL, or a cluster's nodes. */
export type RedisTarget = { readonly url: string } | { readonly cluster: ReadonlyArray<{ host: string; port: number }> }

/** One app process: a pg pool, an ioredis client and a cache on the shared tier. */
export interface RedisApp {
  readonly cache: Cache
  readonly db: CountingPool
  /** Dirty keys across the whole tier (every instance's), counted in Redis now. */
  dirty(): Promise<number>
  close(): Promise<void>
}

/** Opens a cache on tier `TIER_NAME` at `target`, flushing into `table`; used by this system and by bench/redis-app.ts. */
export async function openRedisApp(target: RedisTarget, table: string, level: RedisLevel, flush?: CacheOptions['flush']): Promise<RedisApp> {
  const db = new CountingPool(openPool(CONNECTIONS))
  const client = 'url' in target ? new Redis(target.url, { maxRetriesPerRequest: 1 }) : new Cluster([...target.cluster], { redisOptions: { maxRetriesPerRequest: 1 } })
  client.on('error', (err: Error) => console.error(`redis error: ${err.message}`))
  const { WriteBehindCache } = (await import(ENGINE)) as Engine
  const { PostgresStore } = (await import(POSTGRES)) as Postgres
  const { RedisTier } = (await import(TIER)) as Tier
  const tier = new RedisTier({ client, name: TIER_NAME, ...('url' in target ? {} : { shards: CLUSTER_SHARDS }) })
  const cache = await WriteBehindCache.open({
    store: new PostgresStore({ pool: db, table }),
    tier,
    durability: level,
    ...(flush === undefined ? {} : { flush }),
    warn: () => {},
  })
  return {
    cache,
    db,
    async dirty() {
      const counts = await Promise.all(Array.from({ length: tier.layout.shards }, (_, shard) => client.zcard(tier.layout.dirty(shard))))
      return counts.reduce((sum, n) => sum + n, 0)
    },
    async close() {
      try {
        await cache.close()
      } finally {
        client.disconnect()
        await db.end()
      }
    },
  }
}

export class WriteBehindRedisSystem implements BenchSystem {
  readonly name: string
  private readonly table: string
  private readonly servers: BenchRedis[] = []
  private cluster: OwnCluster | undefined
  private app: RedisApp | undefined
  private fleet: AppFleet | undefined

  /**
   * `heldFlush`: nothing is flushed during the load (the interval, the staleness bound and the
   * trigger pushed past it), so the drain times the flush of the whole backlog: its rows/s.
   */
  constructor(
    private readonly level: RedisLevel,
    private readonly processes: number,
    private readonly heldFlush = false,
    private readonly onCluster = false,
  ) {
    this.name = `writebehind-redis${onCluster ? '-cluster' : ''}-${level}${processes === 1 ? '' : `-${processes}`}${heldFlush ? '-flush' : ''}`
    this.table = tableFor(this.name)
  }

  private get target(): RedisTarget {
    return this.cluster === undefined ? { url: this.servers[0]!.url } : { cluster: this.cluster.startupNodes }
  }

  async setup(): Promise<TableInfo> {
    if (this.onCluster) {
      this.cluster = await startOwnCluster()
    } else {
      const primary = await startBenchRedis()
      this.servers.push(primary)
      if (this.level === 'replicated') this.servers.push(await startBenchRedis(primary))
    }
    const admin = openPool(1)
    try {
      await admin.query(`DROP TABLE IF EXISTS ${this.table}`)
    } finally {
      await admin.end()
    }
    this.app = await openRedisApp(this.target, this.table, this.level, this.heldFlush ? HELD : undefined)
    return { table: this.table, keyColumn: 'key', valueColumn: 'value', deletedColumn: 'deleted' }
  }

  async write(key: string, value: BenchValue): Promise<void> {
    await this.app!.cache.set(key, value)
  }

  /** Only with more than one app process: the writers run there instead of in this process. */
  get runLoad(): ((workload: Workload, options: LoadOptions) => Promise<LoadResult>) | undefined {
    if (this.processes === 1) return undefined
    return (workload, options) => (this.fleet = new AppFleet(this.processes, { kind: 'writebehind', target: this.target, level: this.level }, this.table)).run(workload, options)
  }

  backlog(): Promise<number> {
    return this.app!.dirty()
  }

  /** This process's `flush()` (which covers every instance's writes), beside the app processes' own drains and closes. */
  async drain(): Promise<void> {
    await Promise.all([this.app!.cache.flush(), this.fleet?.close()])
  }

  dbStats(): WriteCounters {
    const own = this.app!.db.counters
    const elsewhere = this.fleet?.counters ?? { statements: 0, rows: 0 }
    return { statements: own.statements + elsewhere.statements, rows: own.rows + elsewhere.rows }
  }

  async teardown(): Promise<void> {
    try {
      await this.fleet?.close()
      await this.app?.close()
    } finally {
      for (const server of this.servers.reverse()) await server.stop()
      await this.cluster?.destroy()
    }
  }
}
