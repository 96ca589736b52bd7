/** `writebehind/postgres`: the PostgreSQL store. Bring your own `pg` Pool. */
export { PostgresStore, type PostgresStoreOptions } from './store.js'
export type { PostgresBatchPath } from './dialect.js'
export type { PgPoolLike, PgPoolClientLike, PgQueryable, PgResultLike } from './executor.js'
export type { TableMapping, SqlRow } from '../table-mapping.js'
export type { SqlStoreOptions } from '../sql-store.js'
