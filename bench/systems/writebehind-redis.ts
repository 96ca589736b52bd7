/**
 * writebehind-redis[-cluster]-<level>[-<N>]: writebehind on a Redis tier at durability `memory` or
 * `replicated`, flushing into PostgreSQL through its PostgresStore, on a Redis of the benchmark's
 * own (a primary, plus one replica for `replicated`, started here on free ports and stopped by pid:
 * bench/lib/own-redis.ts), or with `-cluster` on a Redis Cluster of its own (3 primaries + 3
 * replicas, test/helpers/own-cluster.ts; the tier with `CLUSTER_SHARDS` shards, 16 per primary). With one app process the harness drives this process's cache; with N,
 * `runLoad` starts N app processes (bench/redis-app.ts), each opening a cache on the same tier name
 * with W/N of the writers, and merges what they acknowledged. Each app process writes its own key
 * space (`a<i>:` before the workload's keys) so that the final-state check stays exact; they share
 * the tier's shards, leases and flushing. The drain is this process's `cache.flush()`, which covers
 * every instance's writes.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Cluster, Redis } from 'ioredis'
import type { CacheOptions } from '../../src/contracts/options.js'
import type { LoadOptions, LoadResult } from '../driver.js'
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
  const cache = await WriteBehindCache.open({
    store: new PostgresStore({ pool: db, table }),
    tier: new RedisTier({ client, name: TIER_NAME, ...('url' in target ? {} : { shards: CLUSTER_SHARDS }) }),
    durability: level,
    ...(flush === undefined ? {} : { flush }),
    warn: () => {},
  })
  return {
    cache,
    db,
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

/** What an app process hands back (bench/redis-app.ts writes it as JSON). */
export interface AppResult {
  acked: number
  failed: number
  elapsedMs: number
  latencies: number[]
  lastAcked: [string, BenchValue][]
  failedKeys: string[]
  firstError: string | undefined
  counters: WriteCounters
}

export class WriteBehindRedisSystem implements BenchSystem {
  readonly name: string
  private readonly table: string
  private readonly servers: BenchRedis[] = []
  private cluster: OwnCluster | undefined
  private app: RedisApp | undefined
  private readonly elsewhere: WriteCounters = { statements: 0, rows: 0 }

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
    return this.processes === 1 ? undefined : (workload, options) => this.runApps(workload, options)
  }

  async drain(): Promise<void> {
    await this.app!.cache.flush()
  }

  dbStats(): WriteCounters {
    const own = this.app!.db.counters
    return { statements: own.statements + this.elsewhere.statements, rows: own.rows + this.elsewhere.rows }
  }

  async teardown(): Promise<void> {
    try {
      await this.app?.close()
    } finally {
      for (const server of this.servers.reverse()) await server.stop()
      await this.cluster?.destroy()
    }
  }

  private async runApps(workload: Workload, options: LoadOptions): Promise<LoadResult> {
    const scratch = await mkdtemp(join(tmpdir(), 'wbbench-apps-'))
    try {
      const n = this.processes
      const share = Math.ceil(options.writers / n)
      const apps = Array.from({ length: n }, (_, index) => {
        const out = join(scratch, `${index}.json`)
        const job = {
          target: this.target,
          table: this.table,
          level: this.level,
          workload: workload.name,
          index,
          writers: share,
          firstWriter: index * share,
          durationMs: options.durationMs,
          maxWrites: Math.ceil(options.maxWrites / n),
          arrival: options.arrival ?? 'immediate',
          out,
        }
        return { out, child: spawn(process.execPath, ['--import', 'tsx', 'bench/redis-app.ts', JSON.stringify(job)], { stdio: ['pipe', 'pipe', 'inherit'] }) }
      })
      const exits = apps.map(({ child }) => new Promise<void>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`app process exited with code ${code}`))))))
      // Every app opens its cache first; then all start writing at once.
      await Promise.all(
        apps.map(
          ({ child }) =>
            new Promise<void>((resolve, reject) => {
              child.stdout.on('data', (chunk: Buffer) => (chunk.toString().includes('ready') ? resolve() : undefined))
              child.once('exit', () => reject(new Error('an app process exited before it was ready')))
            }),
        ),
      )
      for (const { child } of apps) child.stdin.end('go\n')
      await Promise.all(exits)
      const results = await Promise.all(apps.map(async ({ out }) => JSON.parse(await readFile(out, 'utf8')) as AppResult))
      return this.merge(results)
    } finally {
      await rm(scratch, { recursive: true, force: true })
    }
  }

  private merge(results: AppResult[]): LoadResult {
    const latencies = Float64Array.from(results.flatMap((r) => r.latencies))
    for (const r of results) {
      this.elsewhere.statements += r.counters.statements
      this.elsewhere.rows += r.counters.rows
    }
    return {
      acked: results.reduce((sum, r) => sum + r.acked, 0),
      failed: results.reduce((sum, r) => sum + r.failed, 0),
      elapsedMs: Math.max(...results.map((r) => r.elapsedMs)),
      latencies,
      lastAcked: new Map(results.flatMap((r) => r.lastAcked)),
      counts: new Map(),
      failedKeys: new Set(results.flatMap((r) => r.failedKeys)),
      firstError: results.find((r) => r.firstError !== undefined)?.firstError,
    }
  }
}
