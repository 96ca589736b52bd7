/**
 * MySQL 8 / MariaDB 10.11 SQL for the core: `ON DUPLICATE KEY UPDATE col = IF(VALUES(version) >
 * version, VALUES(col), col)` with the version column assigned LAST (assignments run left to right,
 * so every IF still sees the old version), a binary-keyed default table, fenced counts from the
 * affected-rows / `Duplicates:` figures, errno-based retry classification, and merge ops on JSON
 * numbers (as doubles, like JavaScript) or on a counter column's own type.
 */
import type { MergeKind } from '../../../contracts/store.js'
import type { ExecResult, NumberSql, SqlDialect } from '../sql-dialect.js'
import { classifyMySql } from '../error-classes.js'
import { quoteWith } from '../identifiers.js'
import type { ResolvedTable } from '../table-mapping.js'

const quote = quoteWith('`')

export const mysqlDialect: SqlDialect = {
  label: 'MySQL',
  maxParams: 65_535,
  quote,
  placeholder: () => '?',
  bool: (value) => value,
  now: 'NOW(6)',
  createTable,
  upsert: (name, table, columns, source) => `INSERT INTO ${name} (${columns.join(', ')}) ${source} ${onDuplicateKey(table, columns)}`,
  mergeUpsert: (name, table, columns, source, kind) => `INSERT INTO ${name} (${columns.join(', ')}) ${source} ${onDuplicateKey(table, columns, kind)}`,
  valueAsText: (column) => `CAST(${column} AS CHAR)`,
  olderThan: (column) => `${column} < NOW(6) - INTERVAL (? * 1000) MICROSECOND`,
  fenced,
  echoesSingleRow: true,
  classify: classifyMySql,
  hidesMissingTables: true,
}

/**
 * The key is VARBINARY so keys compare byte for byte: a VARCHAR with a `_bin` collation still
 * ignores trailing spaces in MariaDB (PAD SPACE), which would merge `a` and `a `.
 */
function createTable(name: string): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${name} (` +
      '`key` VARBINARY(1024) NOT NULL PRIMARY KEY, `value` JSON NULL, `version` BIGINT NOT NULL, ' +
      '`deleted` BOOLEAN NOT NULL DEFAULT FALSE, `updated_at` DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), ' +
      'INDEX `tombstones` (`deleted`, `updated_at`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
  ]
}

/**
 * Every non-key column becomes `IF(newer, VALUES(c), c)`; the version column goes last. A merge
 * (`kind`) also needs the stored counter to hold a number (or the row to be a tombstone), and sets
 * the counter to the stored number combined with the incoming one. The counter goes first and
 * `deleted` right after: once they are assigned the condition still reads the same (the counter
 * then holds a number), so every later IF agrees with the first.
 */
function onDuplicateKey(table: ResolvedTable, columns: readonly string[], kind?: MergeKind): string {
  const others = columns.slice(table.keyColumns.length)
  if (table.versionColumn === undefined) return `ON DUPLICATE KEY UPDATE ${others.map((c) => `${c} = VALUES(${c})`).join(', ')}`
  const version = quote(table.versionColumn)
  const ordered = [...others.filter((c) => c !== version), version]
  const deleted = table.deletedColumn === undefined ? undefined : quote(table.deletedColumn)
  const counter = kind === undefined ? undefined : quote(table.counterColumn as string)
  let applies = `VALUES(${version}) > ${version}`
  if (counter !== undefined) {
    const isNumber = numbers.isNumber(counter, table.builtIn)
    applies += deleted === undefined ? ` AND (${isNumber})` : ` AND (${deleted} OR ${isNumber})`
  }
  const value = (c: string): string => {
    if (c !== counter || kind === undefined) return `VALUES(${c})`
    const combined = numbers.combine(kind, c, `VALUES(${c})`, table.builtIn)
    return deleted === undefined ? combined : `IF(${deleted}, VALUES(${c}), ${combined})`
  }
  return `ON DUPLICATE KEY UPDATE ${ordered.map((c) => `${c} = IF(${applies}, ${value(c)}, ${c})`).join(', ')}`
}

const DOUBLE = (column: string): string => `CAST(${column} AS DOUBLE)`
const JSON_NUMBER_TYPES = "('INTEGER', 'UNSIGNED INTEGER', 'DOUBLE', 'DECIMAL')"

/**
 * JSON numbers: a sum adds doubles (what JavaScript's `+` gives; integers exact up to 2^53) and
 * writes the JSON text back; max and min keep the winning text as it is. A counter column combines
 * in its own type.
 */
const numbers: NumberSql = {
  isNumber: (column, builtIn) => (builtIn ? `JSON_TYPE(${column}) IN ${JSON_NUMBER_TYPES}` : `${column} IS NOT NULL`),
  combine: (kind, stored, incoming, builtIn) => {
    if (!builtIn) return kind === 'sum' ? `${stored} + ${incoming}` : `${kind === 'max' ? 'GREATEST' : 'LEAST'}(${stored}, ${incoming})`
    if (kind === 'sum') return `CAST(${DOUBLE(stored)} + ${DOUBLE(incoming)} AS CHAR)`
    return `IF(${DOUBLE(stored)} ${kind === 'max' ? '>=' : '<='} ${DOUBLE(incoming)}, ${stored}, ${incoming})`
  },
}

/**
 * Rows of an upsert that were fenced (duplicates left unchanged). With mysql2's default
 * CLIENT_FOUND_ROWS flag, affected rows = inserted + 2 × updated + 1 × unchanged = rows + updated.
 */
function fenced(result: ExecResult, rows: number): number {
  const duplicates = Number(/Duplicates:\s*(\d+)/i.exec(result.info ?? '')?.[1] ?? 0)
  const updated = Math.max(0, result.rowCount - rows)
  return Math.max(0, duplicates - updated)
}

/** True when a retry can help: the failure hits the whole store (see error-classes.ts). */
export function isRetryable(error: unknown): boolean {
  return classifyMySql(error).scope === 'store'
}
