/**
 * redis-handrolled: the write-behind many teams build by hand. A write is `SET key value` plus
 * `RPUSH dirty key` in one MULTI, acknowledged when Redis replies. Drainer loops pop up to a
 * batch of dirty keys (`LPOP dirty count`), read their latest values (`MGET`) and upsert them
 * into PostgreSQL in one statement; a loop with nothing to pop waits a tick and tries again.
 *
 * `redis-handrolled-<N>`: N app processes (bench/lib/app-fleet.ts), each with W/N of the writers
 * and two drainer loops of its own on the same list and table, beside this process's two: the same
 * shape as the Redis tier's `-<N>` systems, so the two compare at equal process counts.
 */
import type { Redis } from 'ioredis'
import type { LoadOptions, LoadResult } from '../driver.js'
import { AppFleet } from '../lib/app-fleet.js'
import { CountingPool, openPool, resetPeerTable, tableFor, upsertRows, type Row } from '../lib/pg.js'
import { deleteByPrefix, openRedis, uniquePrefix } from '../lib/redis.js'
import type { Workload } from '../workloads.js'
import type { BenchSystem, BenchValue, TableInfo } from './types.js'

const BATCH_SIZE = 1000
const IDLE_POLL_MS = 20
const DRAINERS = 2

export class RedisHandrolledSystem implements BenchSystem {
  readonly name: string
  private readonly table: string
  private readonly prefix: string
  private readonly dirtyList: string
  private redis: Redis | undefined
  private db: CountingPool | undefined
  private running = false
  private busy = 0
  private loops: Promise<void>[] = []
  private fleet: AppFleet | undefined

  constructor(
    private readonly processes = 1,
    shared?: { table: string; prefix: string },
  ) {
    this.name = processes === 1 ? 'redis-handrolled' : `redis-handrolled-${processes}`
    this.table = shared?.table ?? tableFor(this.name)
    this.prefix = shared?.prefix ?? uniquePrefix(this.name)
    this.dirtyList = `${this.prefix}dirty`
  }

  /** An app process's member (bench/redis-app.ts): writers and drainers on the measuring process's list and table. */
  static join(table: string, prefix: string): Promise<RedisHandrolledSystem> {
    const member = new RedisHandrolledSystem(1, { table, prefix })
    member.start()
    return Promise.resolve(member)
  }

  async setup(): Promise<TableInfo> {
    this.start()
    await resetPeerTable(this.db!.pool, this.table)
    return { table: this.table, keyColumn: 'key', valueColumn: 'value' }
  }

  /** With more than one process: the writers run in the app processes. */
  get runLoad(): ((workload: Workload, options: LoadOptions) => Promise<LoadResult>) | undefined {
    if (this.processes === 1) return undefined
    return (workload, options) => (this.fleet = new AppFleet(this.processes, { kind: 'redis-handrolled', prefix: this.prefix }, this.table)).run(workload, options)
  }

  async write(key: string, value: BenchValue): Promise<void> {
    const replies = await this.redis!.multi()
      .set(this.prefix + key, JSON.stringify(value))
      .rpush(this.dirtyList, key)
      .exec()
    const failed = replies?.find(([err]) => err !== null)
    if (replies === null || failed !== undefined) throw new Error(`redis MULTI failed: ${String(failed?.[0])}`)
  }

  /** Keys on the dirty list (popped ones being upserted are not counted). */
  async backlog(): Promise<number> {
    return await this.redis!.llen(this.dirtyList)
  }

  async drain(): Promise<void> {
    await Promise.all([this.drainHere(), this.fleet?.close()])
  }

  /** Stops this member's drainers (after their current batch) and closes its connections, leaving the shared list and table. */
  async leave(): Promise<void> {
    this.running = false
    await Promise.allSettled(this.loops)
    await this.redis?.quit()
    await this.db?.end()
  }

  private start(): void {
    this.db = new CountingPool(openPool(DRAINERS))
    this.redis = openRedis()
    this.running = true
    this.loops = Array.from({ length: DRAINERS }, () => this.drainLoop())
  }

  private async drainHere(): Promise<void> {
    while (this.busy > 0 || (await this.redis!.llen(this.dirtyList)) > 0) {
      await new Promise((resolve) => setTimeout(resolve, IDLE_POLL_MS))
    }
  }

  dbStats() {
    const elsewhere = this.fleet?.counters ?? { statements: 0, rows: 0 }
    return { statements: this.db!.counters.statements + elsewhere.statements, rows: this.db!.counters.rows + elsewhere.rows }
  }

  async teardown(): Promise<void> {
    await this.fleet?.close()
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
