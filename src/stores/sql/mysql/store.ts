/**
 * MySqlStore: the Store for MySQL 8 and MariaDB 10.11 on the user's own `mysql2/promise` pool.
 */
import { invalid } from '../../../validate/check.js'
import { SqlStore, type SqlStoreOptions } from '../sql-store.js'
import { mysqlDialect } from './dialect.js'
import { MySqlExecutor, type MySqlPoolLike, type MySqlQueryable } from './executor.js'

export interface MySqlStoreOptions extends SqlStoreOptions {
  /**
   * Your `mysql2/promise` pool (recommended) or connection; the store never ends it. Fenced counts
   * assume mysql2's default flags (CLIENT_FOUND_ROWS on).
   */
  pool: MySqlPoolLike | MySqlQueryable
}

/**
 * A Store on MySQL or MariaDB. Each batch is one transaction of fenced multi-row
 * `INSERT ... ON DUPLICATE KEY UPDATE` statements, so redelivery is harmless. Values go through
 * mysql2's `query(sql, values)` placeholders (escaped by the driver, never spliced by the store).
 * The built-in table's key is VARBINARY(1024), so keys compare byte for byte (no case folding, no
 * trailing-space padding) and may be up to 1024 UTF-8 bytes; values are JSON (MariaDB checks them,
 * MySQL 8 normalizes their text).
 *
 * ```ts
 * const store = new MySqlStore({ pool: mysql.createPool({ uri }) })
 * ```
 */
export class MySqlStore extends SqlStore {
  constructor(options: MySqlStoreOptions) {
    if (typeof options !== 'object' || options === null) throw invalid('MySqlStore options', 'an object such as { pool }', options)
    const pool = options.pool as unknown
    if (typeof pool !== 'object' || pool === null || typeof (pool as MySqlQueryable).query !== 'function') {
      throw invalid('pool', 'a mysql2/promise pool or connection (an object with query(sql, values))', pool)
    }
    super(mysqlDialect, new MySqlExecutor(options.pool), options, { maxRows: 1000, maxBytes: 4 << 20 })
  }
}
