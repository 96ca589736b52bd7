/**
 * writebehind-<level>: writebehind itself at one durability level (`memory`, `log`, `disk`,
 * `store`), flushing into PostgreSQL through its PostgresStore over a counting pg Pool, with its
 * dirty log in a temp folder. The flush settings are the documented defaults, so the numbers show
 * what a user gets out of the box. A write is acknowledged when `cache.set` resolves; the drain
 * is `cache.flush()`. A variant can pass its own flush or log-write settings (see systems/index.ts),
 * or increment a counter per write (`cache.increment(key)`: merge ops, one per key per flush).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CacheOptions } from '../../src/contracts/options.js'
import { CountingPool, openPool, tableFor } from '../lib/pg.js'
import type { BenchSystem, BenchValue, TableInfo } from './types.js'

export type Level = 'memory' | 'log' | 'disk' | 'store'

const CONNECTIONS = 4

type Engine = typeof import('../../src/core/write-behind-cache.js')
type Postgres = typeof import('../../src/stores/sql/postgres/index.js')
type Cache = Awaited<ReturnType<Engine['WriteBehindCache']['open']>>

// Loaded at setup (type-checked above, imported only here) so that the other systems still run
// while someone is mid-edit in the engine or the store.
const ENGINE = '../../src/core/write-behind-cache.js'
const POSTGRES = '../../src/stores/sql/postgres/index.js'

export class WriteBehindSystem implements BenchSystem {
  readonly name: string
  private readonly table: string
  private db: CountingPool | undefined
  private cache: Cache | undefined
  private dir: string | undefined

  /** `increment`: each write is `cache.increment(key)` instead of `cache.set(key, value)`. */
  readonly counter: boolean

  constructor(
    private readonly level: Level,
    private readonly variant?: { suffix: string; options?: Pick<CacheOptions, 'flush' | 'logWriteScheduling'>; increment?: boolean },
  ) {
    this.name = `writebehind-${level}${variant === undefined ? '' : `-${variant.suffix}`}`
    this.table = tableFor(this.name)
    this.counter = variant?.increment === true
  }

  async setup(): Promise<TableInfo> {
    const pool = openPool(CONNECTIONS)
    this.db = new CountingPool(pool)
    // The store creates its built-in table (key, value, version, deleted, updated_at) on first use.
    await pool.query(`DROP TABLE IF EXISTS ${this.table}`)
    this.dir = await mkdtemp(join(tmpdir(), `wbbench-${this.level}-`))
    const { WriteBehindCache } = (await import(ENGINE)) as Engine
    const { PostgresStore } = (await import(POSTGRES)) as Postgres
    this.cache = await WriteBehindCache.open({
      store: new PostgresStore({ pool: this.db, table: this.table }),
      dir: this.dir,
      durability: this.level,
      ...this.variant?.options,
    })
    return { table: this.table, keyColumn: 'key', valueColumn: 'value', deletedColumn: 'deleted' }
  }

  async write(key: string, value: BenchValue): Promise<void> {
    if (this.counter) await this.cache!.increment(key)
    else await this.cache!.set(key, value)
  }

  async drain(): Promise<void> {
    await this.cache!.flush()
  }

  dbStats() {
    return { ...this.db!.counters }
  }

  async teardown(): Promise<void> {
    try {
      await this.cache?.close()
    } finally {
      await this.db?.end()
      if (this.dir !== undefined) await rm(this.dir, { recursive: true, force: true })
    }
  }
}
