// A process of the Redis tier's multi-process tests (redis-multiprocess.test.ts), run with tsx.
// Config (argv[2], JSON): mode 'writer' writes `writes` values over `keys` keys one at a time,
// printing each acknowledged write as a JSON line, then flushes and closes; mode 'flusher' opens
// the same cache with a store whose first batch commits and then hangs (BATCH) and whose second
// hangs before committing (HELD), so the test kills it with -9 with one batch committed but not
// acknowledged in Redis and one claimed but not committed.
import { Redis } from 'ioredis'
import pg from 'pg'
import type { StoreOp, BatchResult } from '../../src/contracts/store.js'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { RedisTier } from '../../src/redis.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'

export interface ChildConfig {
  mode: 'writer' | 'flusher'
  redisUrl: string
  pgUrl: string
  table: string
  name: string
  keys: readonly string[]
  writes: number
  writer: number
}

/** The first batch commits and then hangs (BATCH); later ones hang before committing (HELD). */
class HangingStore extends PostgresStore {
  private batches = 0
  override async writeBatch(ops: readonly StoreOp[]): Promise<BatchResult> {
    if (this.batches++ === 0) {
      await super.writeBatch(ops)
      process.stdout.write(`BATCH ${ops.length}\n`)
    } else {
      process.stdout.write(`HELD ${ops.length}\n`)
    }
    return await new Promise<never>(() => {}) // never acknowledged: the test kills us here
  }
}

const config = JSON.parse(process.argv[2] as string) as ChildConfig
const pool = new pg.Pool({ connectionString: config.pgUrl, max: 2 })
const client = new Redis(config.redisUrl)
const store = config.mode === 'flusher' ? new HangingStore({ pool, table: config.table }) : new PostgresStore({ pool, table: config.table })
const cache = await WriteBehindCache.open({
  store,
  tier: new RedisTier({ client, name: config.name, shards: 4, leaseMs: 500 }),
  flush: { intervalMs: 20, maxDelayMs: 100, batchSize: 7 },
  warn: () => {},
})
if (config.mode === 'writer') {
  for (let i = 0; i < config.writes; i++) {
    const key = config.keys[i % config.keys.length] as string
    const value = { w: config.writer, i }
    if (i % 11 === 5) {
      await cache.delete(key)
      process.stdout.write(`${JSON.stringify({ key, value: null })}\n`)
    } else {
      await cache.set(key, value)
      process.stdout.write(`${JSON.stringify({ key, value })}\n`)
    }
  }
  await cache.flush()
  await cache.close()
  client.disconnect()
  await pool.end()
} else {
  process.stdout.write('READY\n')
}
