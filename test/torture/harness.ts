/**
 * One fault-harness run (README, "Fault harness"): the harness's own PostgreSQL (an audited table:
 * a trigger logs every version change), on the Redis tier its own primary and replica, N writer
 * app processes writing shared key sets at every level (and, on Redis, a flush-only app), and the
 * nemesis injecting faults for `durationMs`. Then it heals, stops the apps (each drains and
 * closes), lets a clean cache flush until nothing is dirty, and checks (checker.ts).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Cluster, Redis } from 'ioredis'
import pg from 'pg'
import type { Durability } from '../../src/contracts/options.js'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { RedisTier } from '../../src/redis.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { RedisLayout } from '../../src/tier/redis/layout.js'
import { auditRows, createAuditedTable, storeRows } from '../helpers/audited-table.js'
import { startOwnPostgres, type OwnServer } from '../helpers/own-servers.js'
import { seededRandom } from '../helpers/seeded-random.js'
import { Apps } from './apps.js'
import { check, type CheckReport, type FaultName, type FinalState } from './checker.js'
import { failoverCost, type FailoverCost } from './failover-cost.js'
import { History } from './history.js'
import { Nemesis, type Injected } from './nemesis.js'
import { tortureKey, type TortureTier } from './protocol.js'
import { RedisClusterFaults } from './redis-cluster.js'
import { RedisPair } from './redis-pair.js'

export interface TortureOptions {
  readonly tier: TortureTier
  readonly durationMs: number
  readonly seed: number
  readonly writers: number
  readonly levels: readonly Durability[]
  /** Keys per level at a time, shared by the writers (the set moves on every WINDOW_MS). @default 40 */
  readonly keys?: number
  /** Writes per second per writer. @default 100 */
  readonly rate?: number
  /** The apps' `flush.intervalMs`. @default 500 (the library's default) */
  readonly flushMs?: number
  /** The faults the nemesis chooses from. @default every fault of the tier (nemesis.ts, FAULTS) */
  readonly faults?: readonly FaultName[]
  readonly log?: (line: string) => void
}

export interface TortureResult {
  readonly options: TortureOptions
  readonly faults: readonly Injected[]
  /** What each failover cost, measured when it happened (Redis tier). */
  readonly failovers: readonly FailoverCost[]
  readonly report: CheckReport
  /** Whether every app drained at its clean close. */
  readonly appsDrained: boolean
}

const TABLE = 'torture'
const NAME = 'torture'
const SHARDS = 8
/** On a Cluster: 8 per primary, so shards spread over its 3 primaries (README, Redis tier). */
const CLUSTER_SHARDS = 24
/** How long the writers write one set of keys before they move to the next. */
const WINDOW_MS = 2000
const FLUSHER = 0
const FLUSH_TIMEOUT_MS = 120_000

export async function runTorture(options: TortureOptions): Promise<TortureResult> {
  const log = options.log ?? (() => {})
  const keys = options.keys ?? 40
  const work = mkdtempSync(join(tmpdir(), 'wb-torture-'))
  const cleanup: Array<() => Promise<void>> = [async () => rmSync(work, { recursive: true, force: true })]
  try {
    const store = await startOwnPostgres()
    cleanup.push(() => store.destroy())
    const pool = new pg.Pool({ connectionString: store.url, max: 2 })
    pool.on('error', () => {})
    cleanup.push(() => pool.end())
    await createAuditedTable(pool, TABLE)
    const pair = options.tier === 'redis' ? await RedisPair.start() : undefined
    if (pair !== undefined) cleanup.push(() => pair.destroy())
    const cluster = options.tier === 'redis-cluster' ? await RedisClusterFaults.start(seededRandom(options.seed ^ 0xc1)) : undefined
    if (cluster !== undefined) cleanup.push(() => cluster.destroy())
    const redis = pair ?? cluster
    const shards = cluster === undefined ? SHARDS : CLUSTER_SHARDS
    const history = new History(options.levels)
    const base = {
      tier: options.tier,
      redisUrl: pair?.url,
      clusterNodes: cluster?.cluster.startupNodes,
      shards,
      name: NAME,
      pgUrl: store.url,
      table: TABLE,
      levels: options.levels,
      keys,
      windowMs: WINDOW_MS,
      writers: options.writers,
      epoch: Date.now(),
      rate: options.rate ?? 100,
      concurrency: 4,
      flushMs: options.flushMs ?? 500,
      seed: options.seed,
    }
    const apps = new Apps(base, history)
    const dirOf = (id: number): string | undefined => (redis === undefined ? appDir(work, id) : undefined)
    for (let id = 1; id <= options.writers; id++) await apps.add(id, 'writer', dirOf(id))
    if (redis !== undefined) await apps.add(FLUSHER, 'flusher', undefined)
    log(`${options.writers} writers${redis === undefined ? '' : ' and a flusher'} running; faults for ${options.durationMs / 1000} s (seed ${options.seed})`)
    const started = Date.now()
    const failovers: FailoverCost[] = []
    if (pair !== undefined) {
      const source = { history, layout: new RedisLayout(NAME, SHARDS), pool, table: TABLE }
      pair.onPromoted = async (promoted) => void failovers.push(await failoverCost(source, promoted, Date.now() - started))
    }
    const faults = await new Nemesis(options.tier, options.seed, { apps, store, redis }, log, options.faults).run(options.durationMs)
    log('healing; stopping the apps (each drains and closes)')
    await redis?.heal()
    const closed = await apps.stopAll()
    if (apps.stuck.length > 0) log(`did not close in time (killed): ${apps.stuck.join(', ')}`)
    log(`apps stopped (${closed.drained ? 'drained' : `not drained: ${closed.unflushed} unflushed`}) after ${Date.now() - started - options.durationMs} ms; a clean cache flushes`)
    const final = redis === undefined ? await finalEmbedded(store, options.writers, work) : await finalRedis(store, pair?.client() ?? (cluster as RedisClusterFaults).cluster.client(), shards, history)
    const faultSet = new Set<FaultName>(faults.map((f) => f.fault))
    const report = check(history, { ...final, rows: await storeRows(pool, TABLE), audit: await auditRows(pool, TABLE) }, faultSet, failovers)
    return { options, faults, failovers, report, appsDrained: closed.drained }
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => {})
  }
}

/** The embedded app `id`'s log dir, made on first use and kept across its restarts. */
function appDir(work: string, id: number): string {
  const dir = join(work, `app-${id}`)
  mkdirSync(dir, { recursive: true })
  return dir
}

/** A clean cache on the healed Redis flushes everything; then the dirty count and every key's entry. */
async function finalRedis(store: OwnServer, client: Redis | Cluster, shards: number, history: History): Promise<Pick<FinalState, 'dirty' | 'redis'>> {
  const pool = new pg.Pool({ connectionString: store.url, max: 2 })
  const tier = new RedisTier({ client, name: NAME, shards, leaseMs: 1000 })
  const cache = await WriteBehindCache.open({ store: new PostgresStore({ pool, table: TABLE }), tier, flush: { intervalMs: 50 }, warn: () => {} })
  try {
    await cache.flush({ timeoutMs: FLUSH_TIMEOUT_MS })
    let dirty = 0
    for (let s = 0; s < tier.layout.shards; s++) dirty += await client.zcard(tier.layout.dirty(s))
    const all = history.names.flatMap((level) => Array.from({ length: history.level(level).keyCount }, (_, i) => tortureKey(level, i)))
    const entries = new Map<string, { encoded: string | null; version: number }>()
    for (const [i, entry] of (await tier.read(all)).entries()) if (entry !== undefined) entries.set(all[i] as string, { encoded: entry.encoded, version: entry.version })
    return { dirty, redis: entries }
  } finally {
    await cache.close()
    client.disconnect()
    await pool.end()
  }
}

/** Each app's log dir opened by a clean cache: it replays, flushes and closes; what it could not flush is still dirty. */
async function finalEmbedded(store: OwnServer, writers: number, work: string): Promise<Pick<FinalState, 'dirty'>> {
  const pool = new pg.Pool({ connectionString: store.url, max: 2 })
  let dirty = 0
  try {
    for (let id = 1; id <= writers; id++) {
      const cache = await WriteBehindCache.open({ store: new PostgresStore({ pool, table: TABLE }), dir: appDir(work, id), warn: () => {} })
      await cache.flush({ timeoutMs: FLUSH_TIMEOUT_MS })
      dirty += (await cache.close()).unflushed
    }
  } finally {
    await pool.end()
  }
  return { dirty }
}
