/**
 * The fenced upsert PostgreSQL and SQLite share:
 *
 *   INSERT INTO t AS "wb_t" (cols) <source> ON CONFLICT (keys) DO UPDATE SET c = EXCLUDED.c, ...
 *     WHERE "wb_t".version < EXCLUDED.version
 *
 * and its merge form, where the counter column combines the stored number with the incoming one
 * (a tombstone takes the incoming one) and the update also needs the stored column to hold a
 * number, so a row that is not one is left untouched (the core reads it back as not a number):
 *
 *   ... DO UPDATE SET n = CASE WHEN "wb_t".deleted THEN EXCLUDED.n ELSE <"wb_t".n + EXCLUDED.n> END, ...
 *     WHERE "wb_t".version < EXCLUDED.version AND ("wb_t".deleted OR <"wb_t".n is a number>)
 *
 * Without a version column the update is unconditional (no fencing; merge ops need one). MySQL
 * has no `ON CONFLICT`: its dialect writes `ON DUPLICATE KEY UPDATE` instead.
 */
import type { MergeKind } from '../../contracts/store.js'
import type { NumberSql, SqlDialect } from './sql-dialect.js'
import type { ResolvedTable } from './table-mapping.js'

/** The target table's alias, through which the fence reads the stored row's version. */
export const UPSERT_ALIAS = '"wb_t"'

/** What makes the upsert a merge: its kind, and how the dialect reads and combines numbers. */
interface MergeParts {
  readonly kind: MergeKind
  readonly numbers: NumberSql
}

/** `ON CONFLICT (keys) DO UPDATE SET every other column`, fenced when the table has a version. */
export function onConflict(table: ResolvedTable, columns: readonly string[], quote: (name: string) => string, merge?: MergeParts): string {
  const keys = table.keyColumns.map(quote).join(', ')
  const counter = merge === undefined ? undefined : quote(table.counterColumn as string)
  const deleted = table.deletedColumn === undefined ? undefined : `${UPSERT_ALIAS}.${quote(table.deletedColumn)}`
  const set = columns
    .slice(table.keyColumns.length)
    .map((c) => `${c} = ${c === counter && merge !== undefined ? merged(table, c, deleted, merge) : `EXCLUDED.${c}`}`)
    .join(', ')
  const conditions: string[] = []
  if (table.versionColumn !== undefined) conditions.push(`${UPSERT_ALIAS}.${quote(table.versionColumn)} < EXCLUDED.${quote(table.versionColumn)}`)
  if (counter !== undefined && merge !== undefined) {
    const isNumber = merge.numbers.isNumber(`${UPSERT_ALIAS}.${counter}`, table.builtIn)
    conditions.push(deleted === undefined ? `(${isNumber})` : `(${deleted} OR ${isNumber})`)
  }
  const where = conditions.length === 0 ? '' : ` WHERE ${conditions.join(' AND ')}`
  return `ON CONFLICT (${keys}) DO UPDATE SET ${set}${where}`
}

/** The counter's new value: the stored number combined with the incoming one; a tombstone's is the incoming one. */
function merged(table: ResolvedTable, counter: string, deleted: string | undefined, { kind, numbers }: MergeParts): string {
  const combined = numbers.combine(kind, `${UPSERT_ALIAS}.${counter}`, `EXCLUDED.${counter}`, table.builtIn)
  return deleted === undefined ? combined : `CASE WHEN ${deleted} THEN EXCLUDED.${counter} ELSE ${combined} END`
}

/** A dialect's `upsert` built on `onConflict`, quoting identifiers with `quote`. */
export function onConflictUpsert(quote: (name: string) => string): SqlDialect['upsert'] {
  return (name, table, columns, source) => `INSERT INTO ${name} AS ${UPSERT_ALIAS} (${columns.join(', ')}) ${source} ${onConflict(table, columns, quote)}`
}

/** A dialect's `mergeUpsert` built on `onConflict`, reading and combining numbers with `numbers`. */
export function onConflictMergeUpsert(quote: (name: string) => string, numbers: NumberSql): SqlDialect['mergeUpsert'] {
  return (name, table, columns, source, kind) => `INSERT INTO ${name} AS ${UPSERT_ALIAS} (${columns.join(', ')}) ${source} ${onConflict(table, columns, quote, { kind, numbers })}`
}
