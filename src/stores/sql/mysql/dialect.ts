/**
 * MySQL 8 / MariaDB 10.11 SQL for the core: `ON DUPLICATE KEY UPDATE col = IF(VALUES(version) >
 * version, VALUES(col), col)` with the version column assigned LAST (assignments run left to right,
 * so every IF still sees the old version), a binary-keyed default table, fenced counts from the
 * affected-rows / `Duplicates:` figures, and errno-based retry classification.
 */
import type { ExecResult, SqlDialect } from '../sql-dialect.js'
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
  valueAsText: (column) => `CAST(${column} AS CHAR)`,
  olderThan: (column) => `${column} < NOW(6) - INTERVAL (? * 1000) MICROSECOND`,
  fenced,
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

/** Every non-key column becomes `IF(newer, VALUES(c), c)`; the version column goes last. */
function onDuplicateKey(table: ResolvedTable, columns: readonly string[]): string {
  const others = columns.slice(table.keyColumns.length)
  if (table.versionColumn === undefined) return `ON DUPLICATE KEY UPDATE ${others.map((c) => `${c} = VALUES(${c})`).join(', ')}`
  const version = quote(table.versionColumn)
  const ordered = [...others.filter((c) => c !== version), version]
  const newer = `VALUES(${version}) > ${version}`
  return `ON DUPLICATE KEY UPDATE ${ordered.map((c) => `${c} = IF(${newer}, VALUES(${c}), ${c})`).join(', ')}`
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
