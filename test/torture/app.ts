/**
 * An app process of the fault harness (forked by apps.ts; killed, paused and restarted by the
 * nemesis). A `writer` opens the cache on its tier and writes the shared key sets of every level at
 * a steady rate, never two writes of one key at once in this process, and reports each write after
 * it settled (protocol.ts); a `flusher` opens the same cache and only flushes. On `stop` it lets
 * the writes in flight settle (those still pending after HUNG_AFTER_STOP_MS are reported as hung,
 * once `close()` settled them), drains, closes and reports. Importing this module runs it: it is an entry point.
 *
 * The version of each write is read from the tier: on Redis from the write script's answer (a
 * RedisTier that keeps it, `RecordingTier`), on the embedded tier from the entry right after `set`
 * applied it (synchronously, before its acknowledgement; `whenFull: 'reject'` keeps it so).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { Cluster, Redis } from 'ioredis'
import pg from 'pg'
import { watchFsyncs } from '../../src/cli/sim/power-cut.js'
import type { Durability } from '../../src/contracts/options.js'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { ReplicationNotConfirmedError } from '../../src/errors.js'
import { RedisTier } from '../../src/redis.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import type { WriteAnswer } from '../../src/tier/redis/redis-tier.js'
import { seededRandom } from '../helpers/seeded-random.js'
import { tortureKey, type AppConfig, type AppMessage, type HarnessMessage, type WriteRecord } from './protocol.js'

/** A Redis tier that keeps the version of each key's last applied write (one write per key at once here). */
class RecordingTier extends RedisTier {
  readonly versions = new Map<string, number>()
  override async write(key: string, encoded: string | null, mode: { force: boolean; replicated: boolean }): Promise<WriteAnswer> {
    const answer = await super.write(key, encoded, mode)
    if (!answer.full && answer.conflict !== true) this.versions.set(key, answer.version)
    return answer
  }
}

function send(message: AppMessage): void {
  process.send?.(message)
}

interface Opened {
  readonly cache: WriteBehindCache<unknown>
  /** The version `key` was last given (read right after a write settled, or for the embedded tier right after `set`). */
  readonly versionOf: (key: string) => number | undefined
  readonly embedded: boolean
  release(): Promise<void>
}

const RETRY = { baseDelayMs: 50, maxDelayMs: 1000 }
/** How long the writes in flight at a stop may take to settle before the cache is closed under them. */
const HUNG_AFTER_STOP_MS = 10_000
/** Set once the cache is closed under writes still pending: those are reported as hung. */
const hung = { closing: false }

async function open(config: AppConfig): Promise<Opened> {
  const pool = new pg.Pool({ connectionString: config.pgUrl, max: 3, connectionTimeoutMillis: 2000 })
  pool.on('error', () => {}) // the nemesis kills the store: idle clients die with it
  const store = new PostgresStore({ pool, table: config.table })
  const common = { store, checkStore: false, flush: { intervalMs: config.flushMs }, retry: RETRY, warn: () => {} }
  if (config.tier === 'embedded') {
    const dir = config.dir as string
    watchFsyncs(dir, (mark) => send({ type: 'fsynced', ...mark }))
    const cache = await WriteBehindCache.open({ ...common, dir, backlog: { whenFull: 'reject' } })
    const tier = cache['engine'].tier
    return { cache, versionOf: (key) => tier.versionOf(key), embedded: true, release: () => pool.end() }
  }
  const client = config.clusterNodes === undefined ? new Redis(config.redisUrl as string) : new Cluster([...config.clusterNodes])
  client.on('error', () => {})
  const tier = new RecordingTier({ client, name: config.name, shards: config.shards, leaseMs: 1000, replicaTimeoutMs: 500 })
  const cache = await WriteBehindCache.open({ ...common, tier })
  return {
    cache,
    versionOf: (key) => tier.versions.get(key),
    embedded: false,
    release: async () => {
      client.disconnect()
      await pool.end()
    },
  }
}

async function main(config: AppConfig): Promise<void> {
  const opened = await open(config)
  const stop = new AbortController()
  process.on('message', (message: HarnessMessage) => {
    if (message.type === 'stop') stop.abort()
  })
  send({ type: 'ready' })
  const stopped = new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve()))
  const writing = config.role === 'writer' ? writeUntil(opened, config, stop.signal) : stopped
  // A write still pending this long after the stop hangs: close() must settle it (README, invariant 7).
  const settled = await Promise.race([writing.then(() => true), stopped.then(() => sleep(HUNG_AFTER_STOP_MS)).then(() => false)])
  if (!settled) hung.closing = true
  const report = await opened.cache.close()
  await writing
  await opened.release()
  send({ type: 'closed', drained: report.drained, unflushed: report.unflushed })
  process.disconnect?.()
}

async function writeUntil(opened: Opened, config: AppConfig, stop: AbortSignal): Promise<void> {
  const random = seededRandom(config.seed * 7919 + config.id * 31 + config.incarnation)
  const busy = new Set<string>()
  const pauseMs = (1000 * config.concurrency) / config.rate
  let seq = 0
  const loop = async (): Promise<void> => {
    while (!stop.aborted) {
      const level = config.levels[Math.floor(random() * config.levels.length)] as Durability
      const window = Math.floor((Date.now() - config.epoch) / config.windowMs)
      // The embedded tier is one process per key (its versions are its own): each app has its keys there.
      const slot = config.tier === 'embedded' ? window * config.writers + config.id - 1 : window
      const index = slot * config.keys + Math.floor(random() * config.keys)
      const key = tortureKey(level, index)
      if (busy.has(key)) continue
      busy.add(key)
      const value = random() < 0.1 ? null : `${config.id}.${config.incarnation}.${++seq}`
      send({ type: 'write', ...(await writeOnce(opened, key, value, level)), key: index })
      busy.delete(key)
      await sleep(pauseMs * (0.5 + random()))
    }
  }
  await Promise.all(Array.from({ length: config.concurrency }, loop))
}

/** One write and how it ended; a write is reported only once it settled. */
async function writeOnce(opened: Opened, key: string, value: string | null, level: Durability): Promise<Omit<WriteRecord, 'key'>> {
  const { cache } = opened
  let version: number | undefined
  try {
    const written = value === null ? cache.delete(key, { durability: level }) : cache.set(key, value, { durability: level })
    if (opened.embedded) version = opened.versionOf(key) // applied within the call (see the header)
    await written
    version ??= opened.versionOf(key)
    return { level, version: version ?? 0, value, outcome: 'ok', hung: hung.closing }
  } catch (error) {
    if (error instanceof ReplicationNotConfirmedError) return { level, version: error.version, value, outcome: 'not-confirmed', hung: hung.closing }
    const code = (error as { code?: unknown }).code
    return { level, version: 0, value, outcome: 'failed', code: typeof code === 'string' ? code : 'unknown', hung: hung.closing }
  }
}

process.once('message', (config: AppConfig) => {
  main(config).catch((error: unknown) => {
    send({ type: 'failed', message: error instanceof Error ? error.message : String(error) })
    process.exitCode = 1
    process.disconnect?.()
  })
})
