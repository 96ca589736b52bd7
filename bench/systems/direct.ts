/**
 * direct-N: what a team does without any cache — one fenced `INSERT ... ON CONFLICT DO UPDATE`
 * per write, awaited, over a pg Pool of N connections. Writers beyond N queue for a connection,
 * as the requests of a busy application would.
 */
import type pg from 'pg'
import { CountingPool, openPool, resetPeerTable, singleUpsertSql, tableFor } from '../lib/pg.js'
import type { BenchSystem, BenchValue, TableInfo } from './types.js'

export class DirectSystem implements BenchSystem {
  readonly name: string
  private readonly table: string
  private readonly sql: string
  private db: CountingPool | undefined

  constructor(private readonly connections: number) {
    this.name = `direct-${connections}`
    this.table = tableFor(this.name)
    this.sql = singleUpsertSql(this.table)
  }

  async setup(): Promise<TableInfo> {
    const pool: pg.Pool = openPool(this.connections)
    this.db = new CountingPool(pool)
    await resetPeerTable(pool, this.table)
    return { table: this.table, keyColumn: 'key', valueColumn: 'value' }
  }

  async write(key: string, value: BenchValue): Promise<void> {
    await this.db!.query(this.sql, [key, JSON.stringify(value), value.seq])
  }

  async drain(): Promise<void> {
    // Every acknowledged write is already committed.
  }

  dbStats() {
    return { ...this.db!.counters }
  }

  async teardown(): Promise<void> {
    await this.db?.end()
  }
}
