/** `writebehind/mysql`: the MySQL / MariaDB store. Bring your own `mysql2/promise` pool. */
export { MySqlStore, type MySqlStoreOptions } from './store.js'
export type { MySqlPoolLike, MySqlPoolConnectionLike, MySqlQueryable } from './executor.js'
export type { TableMapping, SqlRow } from '../table-mapping.js'
export type { SqlStoreOptions } from '../sql-store.js'
