/**
 * SQLite SQL for the core: the same `ON CONFLICT ... DO UPDATE ... WHERE version < excluded.version`
 * as PostgreSQL (on-conflict.ts), a TEXT-valued WITHOUT ROWID default table, 1/0 booleans, millisecond ISO-style
 * `updated_at`, retry classification by SQLite result code (busy/locked/IO: retry), and merge ops
 * on JSON text numbers (json_extract, json_quote) or on a counter column.
 */
import type { NumberSql, SqlDialect } from '../sql-dialect.js'
import { classifySqlite } from '../error-classes.js'
import { quoteWith } from '../identifiers.js'
import { onConflictMergeUpsert, onConflictUpsert } from '../on-conflict.js'
import type { ResolvedTable } from '../table-mapping.js'

const quote = quoteWith('"')
const NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"

const json = (column: string): string => `json_extract(${column}, '$')`

/**
 * The built-in `value` is JSON text: a number is valid JSON whose type is integer or real (the
 * CASE keeps json_type from failing on text that is not JSON). Integers add as 64-bit integers,
 * reals as doubles; json_quote writes the sum back as JSON text, max and min keep the winning text.
 * A counter column must hold an integer or a real (SQLite stores any type in any column).
 */
const numbers: NumberSql = {
  isNumber: (column, builtIn) => (builtIn ? `CASE WHEN json_valid(${column}) THEN json_type(${column}) IN ('integer', 'real') ELSE 0 END` : `typeof(${column}) IN ('integer', 'real')`),
  combine: (kind, stored, incoming, builtIn) => {
    if (!builtIn) return kind === 'sum' ? `${stored} + ${incoming}` : `${kind}(${stored}, ${incoming})`
    if (kind === 'sum') return `json_quote(${json(stored)} + ${json(incoming)})`
    return `CASE WHEN ${json(stored)} ${kind === 'max' ? '>=' : '<='} ${json(incoming)} THEN ${stored} ELSE ${incoming} END`
  },
}

export const sqliteDialect: SqlDialect = {
  label: 'SQLite',
  maxParams: 32_766,
  preparedPerRow: true,
  quote,
  placeholder: () => '?',
  bool: (value) => (value ? 1 : 0),
  now: NOW,
  createTable,
  upsert: onConflictUpsert(quote),
  mergeUpsert: onConflictMergeUpsert(quote, numbers),
  valueAsText: (column) => column,
  olderThan: (column) => `${column} < strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (? / 1000.0) || ' seconds')`,
  fenced: (result, rows) => Math.max(0, rows - result.rowCount),
  classify: classifySqlite,
}

function createTable(name: string, table: ResolvedTable): string[] {
  const parts = table.nameParts
  const tableOnly = parts.at(-1) as string
  const base = tableOnly.slice(0, 48)
  // An index lives in its table's schema: SQLite wants the schema on the index name, not the table.
  const index = parts.length === 2 ? `${quote(parts[0] as string)}.${quote(`${base}_tombstones`)}` : quote(`${base}_tombstones`)
  return [
    `CREATE TABLE IF NOT EXISTS ${name} (` +
      '"key" TEXT NOT NULL PRIMARY KEY, "value" TEXT, "version" INTEGER NOT NULL, ' +
      `"deleted" INTEGER NOT NULL DEFAULT 0, "updated_at" TEXT NOT NULL DEFAULT (${NOW})) WITHOUT ROWID`,
    `CREATE INDEX IF NOT EXISTS ${index} ON ${quote(tableOnly)} ("updated_at") WHERE "deleted"`,
  ]
}

/** True when a retry can help: the failure hits the whole store (see error-classes.ts). */
export function isRetryable(error: unknown): boolean {
  return classifySqlite(error).scope === 'store'
}
