/**
 * The fenced upsert PostgreSQL and SQLite share:
 *
 *   INSERT INTO t AS "wb_t" (cols) <source> ON CONFLICT (keys) DO UPDATE SET c = EXCLUDED.c, ...
 *     WHERE "wb_t".version < EXCLUDED.version
 *
 * Without a version column the update is unconditional (no fencing). MySQL has no `ON CONFLICT`:
 * its dialect writes `ON DUPLICATE KEY UPDATE` instead.
 */
import type { SqlDialect } from './sql-dialect.js'
import type { ResolvedTable } from './table-mapping.js'

/** The target table's alias, through which the fence reads the stored row's version. */
export const UPSERT_ALIAS = '"wb_t"'

/** `ON CONFLICT (keys) DO UPDATE SET every other column`, fenced when the table has a version. */
export function onConflict(table: ResolvedTable, columns: readonly string[], quote: (name: string) => string): string {
  const keys = table.keyColumns.map(quote).join(', ')
  const set = columns
    .slice(table.keyColumns.length)
    .map((c) => `${c} = EXCLUDED.${c}`)
    .join(', ')
  const version = table.versionColumn === undefined ? undefined : quote(table.versionColumn)
  const fence = version === undefined ? '' : ` WHERE ${UPSERT_ALIAS}.${version} < EXCLUDED.${version}`
  return `ON CONFLICT (${keys}) DO UPDATE SET ${set}${fence}`
}

/** A dialect's `upsert` built on `onConflict`, quoting identifiers with `quote`. */
export function onConflictUpsert(quote: (name: string) => string): SqlDialect['upsert'] {
  return (name, table, columns, source) => `INSERT INTO ${name} AS ${UPSERT_ALIAS} (${columns.join(', ')}) ${source} ${onConflict(table, columns, quote)}`
}
