/**
 * redis-handrolled: the write-behind many teams build by hand. A write is `SET key value` plus
 * `RPUSH dirty key` in one MULTI, acknowledged when Redis replies. Drainer loops pop up to a
 * batch of dirty keys (`LPOP dirty count`), read their latest values (`MGET`) and upsert them
 * into PostgreSQL in one statement; a loop with nothing to pop waits a tick and tries again.
 */
import type { Redis } from 'ioredis'
import { CountingPool, openPool, resetPeerTable, tableFor, upsertRows, type Row } from '../lib/pg.js'
import { deleteByPrefix, openRedis, uniquePrefix } from '../lib/redis.js'
import type { BenchSystem, BenchValue, TableInfo } from './types.js'

const BATCH_SIZE = 1000
const IDLE_POLL_MS = 20
const DRAINERS = 2

export class RedisHandrolledSystem implements BenchSystem {
  readonly name = 'redis-handrolled'
  private readonly table = tableFor(this.name)
  private readonly prefix = uniquePrefix(this.name)
  private readonly dirtyList = `${this.prefix}dirty`
  private redis: Redis | undefined
  private db: CountingPool | undefined
  private running = false
  private busy = 0
  private loops: Promise<void>[] = []

  async setup(): Promise<TableInfo> {
    const pool = openPool(DRAINERS)
    this.db = new CountingPool(pool)
    await resetPeerTable(pool, this.table)
    this.redis = openRedis()
    this.running = true
    this.loops = Array.from({ length: DRAINERS }, () => this.drainLoop())
    return { table: this.table, keyColumn: 'key', valueColumn: 'value' }
  }

  async write(key: string, value: BenchValue): Promise<void> {
    const replies = await this.redis!.multi()
      .set(this.prefix + key, JSON.stringify(value))
      .rpush(this.dirtyList, key)
      .exec()
    const failed = replies?.find(([err]) => err !== null)
    if (replies === null || failed !== undefined) throw new Error(`redis MULTI failed: ${String(failed?.[0])}`)
  }

  async drain(): Promise<void> {
    while (this.busy > 0 || (await this.redis!.llen(this.dirtyList)) > 0) {
      await new Promise((resolve) => setTimeout(resolve, IDLE_POLL_MS))
    }
  }

  dbStats() {
    return { ...this.db!.counters }
  }

  async teardown(): Promise<void> {
    this.running = false
    await Promise.allSettled(this.loops)
    if (this.redis !== undefined) {
      await deleteByPrefix(this.redis, this.prefix)
      await this.redis.quit()
    }
    await this.db?.end()
  }

  private async drainLoop(): Promise<void> {
    while (this.running) {
      const moved = await this.drainOnce().catch((err: Error) => {
        console.error(`redis-handrolled drain failed: ${err.message}`)
        return 0
      })
      if (moved === 0) await new Promise((resolve) => setTimeout(resolve, IDLE_POLL_MS))
    }
  }

  // A failed upsert puts its keys back; a crash between LPOP and the upsert loses them (the
  // usual flaw of this design, which the benchmark does not exercise).
  private async drainOnce(): Promise<number> {
    this.busy += 1
    try {
      const keys = await this.redis!.lpop(this.dirtyList, BATCH_SIZE)
      if (keys === null || keys.length === 0) return 0
      const unique = [...new Set(keys)]
      try {
        const values = await this.redis!.mget(...unique.map((k) => this.prefix + k))
        await upsertRows(this.db!, this.table, toRows(unique, values))
      } catch (err) {
        await this.redis!.rpush(this.dirtyList, ...unique)
        throw err
      }
      return keys.length
    } finally {
      this.busy -= 1
    }
  }
}

function toRows(keys: string[], values: (string | null)[]): Row[] {
  const rows: Row[] = []
  keys.forEach((key, i) => {
    const value = values[i]
    if (value != null) rows.push({ key, value, version: (JSON.parse(value) as BenchValue).seq })
  })
  return rows
}
