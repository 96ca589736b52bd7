/**
 * MySQL 8 / MariaDB 10.11 SQL for the core: `ON DUPLICATE KEY UPDATE col = IF(VALUES(version) >
 * version, VALUES(col), col)` with the version column assigned LAST (assignments run left to right,
 * so every IF still sees the old version), a binary-keyed default table, fenced counts from the
 * affected-rows / `Duplicates:` figures, and errno-based retry classification.
 */
import type { ExecResult, SqlDialect } from '../sql-dialect.js'
import { quoteWith } from '../identifiers.js'
import type { ResolvedTable } from '../table-mapping.js'

const quote = quoteWith('`')

/** Errors a retry can fix: lock wait timeout, deadlock, too many connections, shutdown, lost/killed connections, interrupted query. */
const RETRYABLE_ERRNOS = new Set([1205, 1213, 1040, 1053, 1077, 1079, 1080, 1158, 1159, 1160, 1161, 1317, 1927, 2002, 2003, 2006, 2013, 2055, 3024, 4031])
const RETRYABLE_CODES = new Set(['PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'])
/** SQLSTATE classes a retry cannot fix: data (22), integrity (23), syntax and access (42), cardinality (21). */
const FINAL_CLASSES = new Set(['21', '22', '23', '42'])

export const mysqlDialect: SqlDialect = {
  label: 'MySQL',
  maxParams: 65_535,
  quote,
  placeholder: () => '?',
  bool: (value) => value,
  now: 'NOW(6)',
  createTable,
  upsert: (name, table, columns, tuples) => `INSERT INTO ${name} (${columns.join(', ')}) VALUES ${tuples} ${onDuplicateKey(table, columns)}`,
  valueAsText: (column) => `CAST(${column} AS CHAR)`,
  olderThan: (column) => `${column} < NOW(6) - INTERVAL (? * 1000) MICROSECOND`,
  fenced,
  isRetryable,
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

/** Connection loss, timeouts, deadlocks, too many connections: retry. Bad data, constraints, syntax: don't. */
export function isRetryable(error: unknown): boolean {
  const { errno, code, sqlState } = (error ?? {}) as { errno?: unknown; code?: unknown; sqlState?: unknown }
  if (typeof errno === 'number' && RETRYABLE_ERRNOS.has(errno)) return true
  if (typeof code === 'string' && RETRYABLE_CODES.has(code)) return true
  if (errno === 1153 || errno === 1406) return false // packet or data too large: the same batch fails again
  if (typeof sqlState === 'string' && FINAL_CLASSES.has(sqlState.slice(0, 2))) return false
  return true
}
