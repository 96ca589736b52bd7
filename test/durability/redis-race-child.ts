// A process of redis-race.test.ts, run with tsx: opens the Redis-tier cache `name` over the shared
// PostgreSQL table `table`, then runs `count` increments of `counter` and `count` updates of `doc`
// ({ n } + 1), `concurrency` of each at once, flushes, closes, and prints `DONE <conflicts>`.
import { Redis } from 'ioredis'
import pg from 'pg'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { RedisTier } from '../../src/redis.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'

export interface RaceChildConfig {
  redisUrl: string
  pgUrl: string
  table: string
  name: string
  count: number
  concurrency: number
}

const config = JSON.parse(process.argv[2] as string) as RaceChildConfig
const pool = new pg.Pool({ connectionString: config.pgUrl, max: 2 })
const client = new Redis(config.redisUrl)
const cache = await WriteBehindCache.open<{ n: number } | number>({
  store: new PostgresStore({ pool, table: config.table }),
  tier: new RedisTier({ client, name: config.name, shards: 2 }),
  flush: { intervalMs: 20 },
  warn: () => {},
})
let next = 0
let runs = 0
async function worker(): Promise<void> {
  while (next < config.count) {
    next++
    await cache.increment('counter')
    await cache.update('doc', (doc) => {
      runs++
      return { n: ((doc as { n: number } | undefined)?.n ?? 0) + 1 }
    })
  }
}
await Promise.all(Array.from({ length: config.concurrency }, () => worker()))
await cache.flush()
await cache.close()
client.disconnect()
await pool.end()
process.stdout.write(`DONE ${runs - config.count}\n`)
