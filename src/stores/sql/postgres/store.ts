/**
 * PostgresStore: the Store for PostgreSQL on the user's own `pg` Pool (or Client).
 */
import { checkFunction, invalid, oneOf } from '../../../validate/check.js'
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
  /**
   * Where the store reports errors that a `pg` Pool (or Client) emits on its own, outside any
   * query: an idle connection dropped by a server restart, a failover or `pg_terminate_backend`.
   * Unheard, such an `'error'` event crashes the process, so the store listens on a pool that has
   * no `'error'` listener yet (the listener stays attached) and reports here; the pool replaces
   * the connection on its next query. Pass the cache's `warn` to see them in one place.
   * @default process.emitWarning
   */
  warn?: (code: string, message: string) => void
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
 * const pool = new pg.Pool({ connectionString })
 * pool.on('error', (error) => log.warn('idle PostgreSQL connection lost', error)) // else the store reports it
 * const store = new PostgresStore({ pool })
 * ```
 */
export class PostgresStore extends SqlStore {
  constructor(options: PostgresStoreOptions) {
    if (typeof options !== 'object' || options === null) throw invalid('PostgresStore options', 'an object such as { pool }', options)
    const pool = options.pool as unknown
    if (typeof pool !== 'object' || pool === null || typeof (pool as PgQueryable).query !== 'function') {
      throw invalid('pool', 'a pg Pool or Client (an object with query(text, values))', pool)
    }
    const path = oneOf(options.batchPath, 'batchPath', ['unnest', 'values'] as const) ?? 'unnest'
    checkFunction(options.warn, 'warn', 'a function (code, message)')
    super(postgresDialect(path), new PostgresExecutor(options.pool), options, { maxRows: 5000, maxBytes: 16 << 20 })
    listenForIdleErrors(options.pool, options.warn ?? ((code, message) => process.emitWarning(message, { code })))
  }
}

interface ErrorEmitter {
  on(event: 'error', listener: (error: Error) => void): unknown
  listenerCount(event: 'error'): number
}

/** Keeps a pool's idle-connection errors from crashing the process (pg emits them as `'error'` events). */
function listenForIdleErrors(pool: unknown, warn: (code: string, message: string) => void): void {
  const emitter = pool as Partial<ErrorEmitter>
  if (typeof emitter.on !== 'function' || typeof emitter.listenerCount !== 'function' || emitter.listenerCount('error') > 0) return
  emitter.on('error', (error: Error) => {
    warn(
      'WB_PG_POOL_ERROR',
      `writebehind: the PostgreSQL pool lost an idle connection (${error.message}); the pool opens a new one on its next query. ` +
        'A restart or failover does this; if it keeps happening, check the server and the network. Pass a lone pg Client only if you can reconnect it: a Pool recovers by itself.',
    )
  })
}
