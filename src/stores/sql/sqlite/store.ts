/**
 * SqliteStore: the embedded Store on SQLite through better-sqlite3.
 */
import { InvalidOptionError } from '../../../errors.js'
import { checkString, invalid } from '../../../validate/check.js'
import { SqlStore, type SqlStoreOptions } from '../sql-store.js'
import { sqliteDialect } from './dialect.js'
import { SqliteExecutor, type SqliteDatabaseLike } from './executor.js'

export interface SqliteStoreOptions extends SqlStoreOptions {
  /** A database file the store opens in WAL mode (and closes in `close()`). Give this or `database`. */
  path?: string
  /**
   * An open better-sqlite3 Database (yours: the store never closes it). Give this or `path`. Set
   * `synchronous = FULL` on it yourself if writes must survive a power loss: in WAL mode
   * better-sqlite3 defaults to NORMAL, where a committed batch can roll back after a power cut,
   * while the cache has already dropped it from its log.
   */
  database?: SqliteDatabaseLike
}

/**
 * A Store on SQLite. Each batch is one transaction of cached prepared, fenced upserts
 * (`ON CONFLICT (key) DO UPDATE ... WHERE version < excluded.version`), 100 rows per statement by
 * default (measured faster than one row per run, see bench/stores.bench.ts); `maxRowsPerStatement:
 * 1` runs a single prepared one-row statement once per row instead.
 *
 * ```ts
 * const store = new SqliteStore({ path: 'app.db' })
 * ```
 */
export class SqliteStore extends SqlStore {
  constructor(options: SqliteStoreOptions) {
    if (typeof options !== 'object' || options === null) throw invalid('SqliteStore options', 'an object such as { path } or { database }', options)
    const { path, database } = options
    if ((path === undefined) === (database === undefined)) {
      throw new InvalidOptionError('path', `SqliteStore options must have exactly one of path or database, got ${path === undefined ? 'neither' : 'both'}`)
    }
    checkString(path, 'path')
    if (database !== undefined && typeof database?.prepare !== 'function') throw invalid('database', 'an open better-sqlite3 Database', database)
    const source = path !== undefined ? { path } : { database: database as SqliteDatabaseLike }
    super(sqliteDialect, new SqliteExecutor(source), options, { maxRows: 100, maxBytes: 16 << 20 })
  }
}
