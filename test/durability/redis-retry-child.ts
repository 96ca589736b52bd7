// A flush worker of redis-retry.test.ts, run with tsx. Config (argv[2], JSON): it opens the
// Redis-tier cache `name` over the shared PostgreSQL table `table` (whose trigger fails the key
// `poison` with SQLSTATE 40001, a retryable error), writes `poison` if `writePoison`, and writes a
// healthy key every `healthyEveryMs` if given (the proof that the store takes writes, which
// dead-lettering needs). Each store call that carries `poison` prints `TRY <epoch ms>`; a dead
// letter prints `DEAD <key> <attempts>`. The test kills it with -9 or lets it run.
import { Redis } from 'ioredis'
import pg from 'pg'
import type { BatchResult, StoreOp } from '../../src/contracts/store.js'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { RedisTier } from '../../src/redis.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'

export interface RetryChildConfig {
  redisUrl: string
  pgUrl: string
  table: string
  name: string
  writePoison: boolean
  healthyEveryMs?: number
  retry: { baseDelayMs: number; maxDelayMs: number; maxAttempts: number }
}

/** The real PostgreSQL store, printing when a batch carrying `poison` goes out. */
class WatchedStore extends PostgresStore {
  override async writeBatch(ops: readonly StoreOp[]): Promise<BatchResult> {
    if (ops.some((op) => op.key === 'poison')) process.stdout.write(`TRY ${Date.now()}\n`)
    return await super.writeBatch(ops)
  }
}

const config = JSON.parse(process.argv[2] as string) as RetryChildConfig
const pool = new pg.Pool({ connectionString: config.pgUrl, max: 2 })
const client = new Redis(config.redisUrl)
const cache = await WriteBehindCache.open({
  store: new WatchedStore({ pool, table: config.table }),
  tier: new RedisTier({ client, name: config.name, shards: 2, leaseMs: 300 }),
  flush: { intervalMs: 20, maxDelayMs: 50, batchSize: 10 },
  // A high circuit threshold: every failure of the poison counts as an attempt (none is a skipped probe).
  retry: { ...config.retry, circuitThreshold: 1000 },
  warn: () => {},
})
cache.on('dead-letter', ({ key }) => process.stdout.write(`DEAD ${key}\n`))
if (config.writePoison) await cache.set('poison', { bad: true })
process.stdout.write('READY\n')
if (config.healthyEveryMs !== undefined) {
  let i = 0
  setInterval(() => {
    cache.set(`ok${i % 5}`, i++).catch(() => {})
  }, config.healthyEveryMs)
}
