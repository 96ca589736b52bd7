/**
 * writebehind-<level>: writebehind itself at one durability level (`memory`, `log`, `disk`,
 * `store`), flushing into PostgreSQL through its PostgresStore over a counting pg Pool, with its
 * dirty log in a temp folder. The flush settings are the documented defaults, so the numbers show
 * what a user gets out of the box. A write is acknowledged when `cache.set` resolves; the drain
 * is `cache.flush()`. A variant can pass its own flush settings (see systems/index.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CountingPool, openPool, tableFor } from '../lib/pg.js'
import type { BenchSystem, BenchValue, TableInfo } from './types.js'

export type Level = 'memory' | 'log' | 'disk' | 'store'

/** Flush settings for a variant; omitted fields keep the cache's defaults. */
export interface FlushSettings {
  intervalMs?: number
  batchSize?: number
  maxDelayMs?: number
  concurrency?: number
}

const CONNECTIONS = 4

/** The part of the cache's public API the benchmark calls (see ARCHITECTURE.md). */
interface CacheLike {
  set(key: string, value: unknown): Promise<void>
  flush(): Promise<void>
  close(): Promise<unknown>
}

// Loaded lazily so the other systems still run while the engine or the store is missing or broken.
const ENGINE = '../../src/core/write-behind-cache.js'
const POSTGRES = '../../src/stores/sql/postgres/index.js'

export class WriteBehindSystem implements BenchSystem {
  readonly name: string
  private readonly table: string
  private db: CountingPool | undefined
  private cache: CacheLike | undefined
  private dir: string | undefined

  constructor(
    private readonly level: Level,
    private readonly variant?: { suffix: string; flush: FlushSettings },
  ) {
    this.name = `writebehind-${level}${variant === undefined ? '' : `-${variant.suffix}`}`
    this.table = tableFor(this.name)
  }

  async setup(): Promise<TableInfo> {
    const pool = openPool(CONNECTIONS)
    this.db = new CountingPool(pool)
    // The store creates its built-in table (key, value, version, deleted, updated_at) on first use.
    await pool.query(`DROP TABLE IF EXISTS ${this.table}`)
    this.dir = await mkdtemp(join(tmpdir(), `wbbench-${this.level}-`))
    const { WriteBehindCache } = (await import(ENGINE)) as { WriteBehindCache: { open(o: object): Promise<CacheLike> } }
    const { PostgresStore } = (await import(POSTGRES)) as { PostgresStore: new (o: object) => object }
    this.cache = await WriteBehindCache.open({
      store: new PostgresStore({ pool: this.db, table: this.table }),
      dir: this.dir,
      durability: this.level,
      ...(this.variant === undefined ? {} : { flush: this.variant.flush }),
    })
    return { table: this.table, keyColumn: 'key', valueColumn: 'value', deletedColumn: 'deleted' }
  }

  async write(key: string, value: BenchValue): Promise<void> {
    await this.cache!.set(key, value)
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
