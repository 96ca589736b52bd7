/** `writebehind/sqlite`: the embedded SQLite store (needs the better-sqlite3 package). */
export { SqliteStore, type SqliteStoreOptions } from './store.js'
export type { SqliteDatabaseLike, SqliteStatementLike } from './executor.js'
export type { TableMapping, SqlRow } from '../table-mapping.js'
export type { SqlStoreOptions } from '../sql-store.js'
