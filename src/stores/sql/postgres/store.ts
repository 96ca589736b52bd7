/**
 * PostgresStore: the Store for PostgreSQL on the user's own `pg` Pool (or Client).
 */
import { SqlStore, type SqlStoreOptions } from '../sql-store.js'
import { postgresDialect, type PostgresBatchPath } from './dialect.js'
import { PostgresExecutor, type PgPoolLike, type PgQueryable } from './executor.js'

export interface PostgresStoreOptions extends SqlStoreOptions {
  /**
   * Your `pg` Pool (recommended: a batch larger than `maxRowsPerStatement` checks out a client for
   * its transaction) or a connected Client (batches then run one at a time). The store never ends it.
   */
  pool: PgPoolLike | PgQueryable
  /**
   * How batches reach the built-in table: `unnest` sends four arrays (one statement text, cheap to
   * parse), `values` a multi-row VALUES list. Mapped tables always use `values`. @default 'unnest'
   */
  batchPath?: PostgresBatchPath
}

/**
 * A Store on PostgreSQL. Each batch is one transaction of fenced upserts
 * (`ON CONFLICT (key) DO UPDATE ... WHERE version < EXCLUDED.version`), so redelivery is harmless.
 *
 * The built-in table keeps values as jsonb: `load` returns equal JSON, not the same bytes (key
 * order and spacing are normalized), and PostgreSQL refuses `\u0000` inside JSON strings and NUL
 * in keys, so such an op fails its batch as not retryable (the cache isolates it and dead-letters
 * it). Map onto your own table with a `text` column if you need those.
 *
 * ```ts
 * const store = new PostgresStore({ pool: new pg.Pool({ connectionString }) })
 * ```
 */
export class PostgresStore extends SqlStore {
  constructor(options: PostgresStoreOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('PostgresStore needs options: { pool }')
    const pool = options.pool as unknown
    if (typeof pool !== 'object' || pool === null || typeof (pool as PgQueryable).query !== 'function') {
      throw new TypeError('pool must be a pg Pool or Client (an object with query(text, values))')
    }
    const path = options.batchPath ?? 'unnest'
    if (path !== 'unnest' && path !== 'values') throw new TypeError(`batchPath must be 'unnest' or 'values'; got ${String(path)}`)
    super(postgresDialect(path), new PostgresExecutor(options.pool), options, { maxRows: 5000, maxBytes: 16 << 20 })
  }
}
