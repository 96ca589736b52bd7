/**
 * The SQL text the core writes for every dialect: chunked multi-row upserts (sets and tombstones,
 * and merge ops, one kind per statement), deletes for tables without tombstones, loads and purges. Chunks respect the dialect's parameter limit, a row cap
 * and a byte cap (MySQL's max_allowed_packet). Values are bound parameters, always.
 */
import type { MergeKind } from '../../contracts/store.js'
import type { ChunkLimits, PreparedRow, SqlDialect, Statement } from './sql-dialect.js'
import type { ResolvedTable } from './table-mapping.js'

/** The columns a write binds, in `PreparedRow.values` order. */
export function writeColumns(table: ResolvedTable): string[] {
  const columns = [...table.keyColumns, ...table.valueColumns]
  if (table.versionColumn !== undefined) columns.push(table.versionColumn)
  if (table.deletedColumn !== undefined) columns.push(table.deletedColumn)
  return columns
}

/**
 * The columns a merge op binds, in `PreparedRow.values` order: key columns, the counter column,
 * version, deleted (those the table has). Other value columns keep what they hold, or their default.
 */
export function mergeColumns(table: ResolvedTable): string[] {
  const columns = [...table.keyColumns, table.counterColumn as string]
  if (table.versionColumn !== undefined) columns.push(table.versionColumn)
  if (table.deletedColumn !== undefined) columns.push(table.deletedColumn)
  return columns
}

/** Builds an upsert's text from its quoted columns and its row source (`VALUES ...` or a `SELECT`). */
type UpsertText = (name: string, columns: readonly string[], source: string) => string

/** Splits rows into chunks within the row, parameter and byte limits (at least one row each). */
export function chunk<T extends { readonly bytes: number }>(rows: readonly T[], limits: ChunkLimits, paramsPerRow: number, maxParams: number): T[][] {
  const maxRows = Math.max(1, Math.min(limits.maxRows, Math.floor(maxParams / Math.max(1, paramsPerRow))))
  const chunks: T[][] = []
  let current: T[] = []
  let bytes = 0
  for (const row of rows) {
    if (current.length > 0 && (current.length >= maxRows || bytes + row.bytes > limits.maxBytes)) {
      chunks.push(current)
      current = []
      bytes = 0
    }
    current.push(row)
    bytes += row.bytes
  }
  if (current.length > 0) chunks.push(current)
  return chunks
}

/** Multi-row `INSERT ... VALUES ... ON CONFLICT/DUPLICATE KEY` statements for `rows` (sets and tombstones). */
export function upsertStatements(dialect: SqlDialect, table: ResolvedTable, rows: readonly PreparedRow[], limits: ChunkLimits): Statement[] {
  return valuesStatements(dialect, table, writeColumns(table), rows, limits, (name, columns, source) => dialect.upsert(name, table, columns, source))
}

/**
 * Multi-row merge upserts for `rows`, merge ops of one `kind` and at most one per key: each adds to,
 * raises or lowers the stored number where the op is newer, in the statement (no read first).
 */
export function mergeStatements(dialect: SqlDialect, table: ResolvedTable, kind: MergeKind, rows: readonly PreparedRow[], limits: ChunkLimits): Statement[] {
  return valuesStatements(dialect, table, mergeColumns(table), rows, limits, (name, columns, source) => dialect.mergeUpsert(name, table, columns, source, kind))
}

function valuesStatements(dialect: SqlDialect, table: ResolvedTable, columns: readonly string[], rows: readonly PreparedRow[], limits: ChunkLimits, upsert: UpsertText): Statement[] {
  const name = tableName(dialect, table)
  const quoted = columns.map((c) => dialect.quote(c))
  if (table.updatedAtColumn !== undefined) quoted.push(dialect.quote(table.updatedAtColumn))
  const suffix = table.updatedAtColumn === undefined ? '' : `, ${dialect.now}`
  const fenced = table.versionColumn !== undefined
  return chunk(rows, limits, columns.length, dialect.maxParams).map((part) => {
    const params: unknown[] = []
    const tuples: string[] = []
    // With `?` placeholders every row's tuple is the same text: build it once.
    const fixed = dialect.placeholder(1) === dialect.placeholder(2) ? tuple(dialect, 1, columns.length, suffix) : undefined
    const echoed = fenced && part.length === 1 && dialect.echoesSingleRow === true
    for (const row of echoed ? [...part, ...part] : part) {
      for (const value of row.values) params.push(value)
      tuples.push(fixed ?? tuple(dialect, params.length - row.values.length + 1, row.values.length, suffix))
    }
    const text = upsert(name, quoted, `VALUES ${tuples.join(', ')}`)
    return { text, params, rows: part.length, fencedUpsert: fenced, batchRows: part, ...(echoed ? { echoed } : {}) }
  })
}

/** `(<placeholders first..first+count-1><suffix>)`; the same text for every row with `?` placeholders. */
function tuple(dialect: SqlDialect, first: number, count: number, suffix: string): string {
  const marks: string[] = []
  for (let n = first; n < first + count; n++) marks.push(dialect.placeholder(n))
  return `(${marks.join(', ')}${suffix})`
}

/**
 * One single-row upsert run once per row (`Statement.each`): one prepared statement for the batch.
 * With `kind`, the rows are merge ops of that kind.
 */
export function perRowUpsert(dialect: SqlDialect, table: ResolvedTable, rows: readonly PreparedRow[], kind?: MergeKind): Statement {
  const one = { maxRows: 1, maxBytes: Infinity }
  const [first] = kind === undefined ? upsertStatements(dialect, table, rows.slice(0, 1), one) : mergeStatements(dialect, table, kind, rows.slice(0, 1), one)
  const text = (first as Statement).text
  return { text, params: [], rows: rows.length, fencedUpsert: table.versionColumn !== undefined, each: rows.map((row) => row.values), batchRows: rows }
}

/** `DELETE` statements for deletes on a table without a `deleted` column (fenced by version if any). */
export function deleteStatements(dialect: SqlDialect, table: ResolvedTable, rows: readonly PreparedRow[], limits: ChunkLimits): Statement[] {
  const name = tableName(dialect, table)
  const perRow = table.keyColumns.length + (table.versionColumn === undefined ? 0 : 1)
  return chunk(rows, limits, perRow, dialect.maxParams).map((part) => {
    const params: unknown[] = []
    const bind = (value: unknown): string => {
      params.push(value)
      return dialect.placeholder(params.length)
    }
    const conditions = part.map((row) => {
      const terms = table.keyColumns.map((column, i) => `${dialect.quote(column)} = ${bind(row.values[i])}`)
      if (table.versionColumn !== undefined) terms.push(`${dialect.quote(table.versionColumn)} < ${bind(row.version)}`)
      return `(${terms.join(' AND ')})`
    })
    return { text: `DELETE FROM ${name} WHERE ${conditions.join(' OR ')}`, params, rows: part.length, fencedUpsert: false, batchRows: part }
  })
}

/** `SELECT` statements loading live rows for key column tuples (at most `maxKeys` per statement). */
export function loadStatements(dialect: SqlDialect, table: ResolvedTable, keys: readonly (readonly unknown[])[], maxKeys: number): Statement[] {
  const live = table.deletedColumn === undefined ? '' : ` AND (${notDeleted(dialect, table.deletedColumn)})`
  const select = table.builtIn ? `${dialect.quote('key')}, ${dialect.valueAsText(dialect.quote('value'))} AS ${dialect.quote('value')}, ${dialect.quote('version')}` : '*'
  return keyedSelects(dialect, table, select, live, keys, maxKeys)
}

/**
 * `SELECT` statements reading the stored rows (tombstones too) of key column tuples, for their
 * versions: the built-in table reads only key and version. Needs a version column.
 */
export function versionStatements(dialect: SqlDialect, table: ResolvedTable, keys: readonly (readonly unknown[])[], maxKeys: number): Statement[] {
  const select = table.builtIn ? `${dialect.quote('key')}, ${dialect.quote('version')}` : '*'
  return keyedSelects(dialect, table, select, '', keys, maxKeys)
}

function keyedSelects(dialect: SqlDialect, table: ResolvedTable, select: string, filter: string, keys: readonly (readonly unknown[])[], maxKeys: number): Statement[] {
  const name = tableName(dialect, table)
  const target = table.keyColumns.length === 1 ? dialect.quote(table.keyColumns[0] as string) : `(${table.keyColumns.map((c) => dialect.quote(c)).join(', ')})`
  const sized = keys.map((values) => ({ values, bytes: 0 }))
  return chunk(sized, { maxRows: maxKeys, maxBytes: Infinity }, table.keyColumns.length, dialect.maxParams).map((part) => {
    const params: unknown[] = []
    const tuples = part.map(({ values }) => {
      const marks = values.map((value) => {
        params.push(value)
        return dialect.placeholder(params.length)
      })
      return marks.length === 1 ? (marks[0] as string) : `(${marks.join(', ')})`
    })
    return { text: `SELECT ${select} FROM ${name} WHERE ${target} IN (${tuples.join(', ')})${filter}`, params, rows: 0, fencedUpsert: false }
  })
}

/** `SELECT max(version)` over the whole table (tombstones too), as column `wb_max`. */
export function highestVersionStatement(dialect: SqlDialect, table: ResolvedTable): string | undefined {
  if (table.versionColumn === undefined) return undefined
  return `SELECT max(${dialect.quote(table.versionColumn)}) AS ${dialect.quote('wb_max')} FROM ${tableName(dialect, table)}`
}

/** A read that names the table and no row: fails when the table is missing or not readable. */
export function tableProbe(dialect: SqlDialect, table: ResolvedTable): string {
  return `SELECT * FROM ${tableName(dialect, table)} WHERE 1 = 0`
}

/**
 * Writes the store's own statements would make, on no row: the fenced upsert, and for a table
 * that takes merge ops the sum, max and min upserts, each fed by a `SELECT` of zero rows (so the
 * server checks the INSERT, UPDATE and SELECT privileges, the columns and their types, and a
 * read-only database, and changes nothing), and for a table without tombstones an empty `DELETE`.
 */
export function writeProbes(dialect: SqlDialect, table: ResolvedTable): string[] {
  const name = tableName(dialect, table)
  const probe = (columns: readonly string[], upsert: UpsertText): string => {
    const quoted = columns.map((c) => dialect.quote(c))
    const nulls = columns.map(() => 'NULL')
    if (table.updatedAtColumn !== undefined) {
      quoted.push(dialect.quote(table.updatedAtColumn))
      nulls.push(dialect.now)
    }
    return upsert(name, quoted, `SELECT ${nulls.join(', ')} FROM (SELECT 1 AS ${dialect.quote('wb_one')}) AS ${dialect.quote('wb_probe')} WHERE 1 = 0`)
  }
  const probes = [probe(writeColumns(table), (n, columns, source) => dialect.upsert(n, table, columns, source))]
  for (const kind of table.merges) probes.push(probe(mergeColumns(table), (n, columns, source) => dialect.mergeUpsert(n, table, columns, source, kind)))
  if (table.deletedColumn === undefined) probes.push(`DELETE FROM ${name} WHERE 1 = 0`)
  return probes
}

/** The `DELETE` removing tombstones whose `updated_at` is older than the bound parameter $1. */
export function purgeStatement(dialect: SqlDialect, table: ResolvedTable): string | undefined {
  if (table.deletedColumn === undefined || table.updatedAtColumn === undefined) return undefined
  const older = dialect.olderThan(dialect.quote(table.updatedAtColumn), 1)
  return `DELETE FROM ${tableName(dialect, table)} WHERE ${dialect.quote(table.deletedColumn)} AND ${older}`
}

/** The quoted, possibly schema-qualified table name. */
export function tableName(dialect: SqlDialect, table: ResolvedTable): string {
  return table.nameParts.map((part) => dialect.quote(part)).join('.')
}

function notDeleted(dialect: SqlDialect, column: string): string {
  const quoted = dialect.quote(column)
  return `${quoted} IS NULL OR NOT ${quoted}`
}
