/**
 * write-through: an in-process Map cache in front of PostgreSQL, where every write updates the
 * Map and awaits its own single-row upsert. Reads would be fast; writes cost exactly a direct
 * write. Uses a pool of 16 connections, like direct-16.
 */
import { CountingPool, openPool, resetPeerTable, singleUpsertSql, tableFor } from '../lib/pg.js'
import type { BenchSystem, BenchValue, TableInfo } from './types.js'

const CONNECTIONS = 16

export class WriteThroughSystem implements BenchSystem {
  readonly name = 'write-through'
  private readonly table = tableFor(this.name)
  private readonly sql = singleUpsertSql(this.table)
  private readonly cache = new Map<string, BenchValue>()
  private db: CountingPool | undefined

  async setup(): Promise<TableInfo> {
    const pool = openPool(CONNECTIONS)
    this.db = new CountingPool(pool)
    await resetPeerTable(pool, this.table)
    return { table: this.table, keyColumn: 'key', valueColumn: 'value' }
  }

  async write(key: string, value: BenchValue): Promise<void> {
    await this.db!.query(this.sql, [key, JSON.stringify(value), value.seq])
    // Cache after the commit, and never let an older racing write replace a newer one.
    const cached = this.cache.get(key)
    if (cached === undefined || cached.seq < value.seq) this.cache.set(key, value)
  }

  async drain(): Promise<void> {
    // Write-through: every acknowledged write is already committed.
  }

  dbStats() {
    return { ...this.db!.counters }
  }

  async teardown(): Promise<void> {
    this.cache.clear()
    await this.db?.end()
  }
}
