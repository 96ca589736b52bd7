/**
 * Where the SQL stores put writes: the default table (`key`, `value`, `version`, `deleted`,
 * `updated_at`) or a user's own table, described by a `TableMapping`. Both resolve to one
 * `ResolvedTable` that the core turns into rows and back, so the dialects never care which it is.
 */
import type { LoadedEntry, MergeKind, StoreMergeOp, StoreOp } from '../../contracts/store.js'
import { checkFunction, invalid } from '../../validate/check.js'
import { validateIdentifier, validateTableName } from './identifiers.js'

/** A row as the driver returns it, by column name. */
export type SqlRow = Record<string, unknown>

/**
 * Maps the cache onto a table you already have, e.g. a leaderboard `scores(player_id, score,
 * version)` where the cache key is `player:42`:
 *
 * ```ts
 * table: {
 *   name: 'scores', key: 'player_id', version: 'version',
 *   keyToColumns: (key) => [Number(key.slice('player:'.length))],
 *   columnsToKey: (row) => `player:${String(row.player_id)}`,
 *   columns: { score: (value) => (value as { score: number }).score },
 *   fromRow: (row) => ({ score: row.score }),
 * }
 * ```
 *
 * For counters and maxima (`cache.increment`, `cache.max`, `cache.min`) name the numeric column
 * that holds the number, `counter: 'score'`: a key's value is then that number (`columns`
 * defaults to writing the value into it, `fromRow` to reading it back), and merge ops add to,
 * raise or lower it in place. Counters need the `version` column.
 *
 * Fencing needs a `version` column (a 64-bit integer). WITHOUT ONE, FENCING IS OFF: every op is
 * applied as it arrives, so a retried or replayed old batch can overwrite a newer value, and a
 * delete removes the row, so a replayed older set can bring it back. Without a `deleted` column a
 * delete removes the row (only if its version is older, when there is a version column), which
 * still leaves that resurrection window; add a `deleted` boolean column to keep tombstones (the
 * value columns must then accept NULL, which a tombstone holds).
 */
export interface TableMapping {
  /** Table name, `table` or `schema.table`. The table must exist (it is never created). */
  name: string
  /** The key column, or the key columns in the order `keyToColumns` returns their values. */
  key: string | readonly string[]
  /** Cache key → key column values. @default `(key) => [key]` (one text key column) */
  keyToColumns?: (key: string) => readonly unknown[]
  /** A loaded row → cache key. @default `(row) => String(row[key])` (one key column) */
  columnsToKey?: (row: SqlRow) => string
  /**
   * Value columns: column name → function from the decoded value (and key) to the column's value.
   * Required unless `counter` is given; with `counter` it may map only that column.
   * @default `{ [counter]: (value) => value }` with `counter`
   */
  columns?: Readonly<Record<string, (value: unknown, key: string) => unknown>>
  /**
   * The numeric column holding a counter's number: merge ops (`cache.increment`, `max`, `min`) add
   * to, raise or lower it in one statement, and a key's value is that number. Needs `version`.
   * Without it the store applies no merge ops (its `merges` list is empty).
   */
  counter?: string
  /** A 64-bit integer column holding the write's version. Without it, fencing is off (see above). */
  version?: string
  /** A boolean column marking tombstones. Without it, a delete removes the row. */
  deleted?: string
  /** A timestamp column set to the server's current time on every write (and used by purges). */
  updatedAt?: string
  /**
   * A loaded row → the value `load` returns. With `counter` it must return the counter's number.
   * @default the counter column as a number with `counter`, else an object of the value columns
   */
  fromRow?: (row: SqlRow) => unknown
}

/** The table as the core uses it, defaults applied and names validated. */
export interface ResolvedTable {
  /** True for the built-in table: values are stored and loaded as encoded text. */
  readonly builtIn: boolean
  readonly nameParts: readonly string[]
  readonly keyColumns: readonly string[]
  readonly valueColumns: readonly string[]
  readonly versionColumn: string | undefined
  readonly deletedColumn: string | undefined
  readonly updatedAtColumn: string | undefined
  /** The column merge ops combine with: the built-in `value` (JSON text), or a mapping's `counter`. */
  readonly counterColumn: string | undefined
  /** The merge kinds the table takes: all with a counter column and a version column, else none. */
  readonly merges: readonly MergeKind[]
  /** Key column values for a cache key (may throw: the op then fails on its own). */
  keyValues(key: string): readonly unknown[]
  /**
   * The bound values of the op's row, in `writeColumns` order: key columns, value columns (NULLs for
   * a delete), then version and deleted if the table has them. May throw: the op then fails alone.
   */
  rowValues(op: StoreOp, bool: (deleted: boolean) => unknown): unknown[]
  /**
   * The bound values of a merge op's row, in `mergeColumns` order: key columns, the operand as the
   * counter column holds it, version, and deleted (false) if the table has it. May throw.
   */
  mergeValues(op: StoreMergeOp, bool: (deleted: boolean) => unknown): unknown[]
  rowKey(row: SqlRow): string
  rowEntry(row: SqlRow): LoadedEntry
}

/** The merge kinds a table with a counter column takes. */
const ALL_MERGES: readonly MergeKind[] = Object.freeze(['sum', 'max', 'min'])

/** The name of the built-in table when no `table` option is given. */
export const DEFAULT_TABLE = 'writebehind_entries'

/** The built-in table, named `name` (`table: 'my_cache'` or the default). */
export function builtInTable(name: string, option = 'table'): ResolvedTable {
  return {
    builtIn: true,
    nameParts: validateTableName(name, option),
    keyColumns: ['key'],
    valueColumns: ['value'],
    versionColumn: 'version',
    deletedColumn: 'deleted',
    updatedAtColumn: 'updated_at',
    counterColumn: 'value',
    merges: ALL_MERGES,
    keyValues: (key) => [key],
    rowValues: (op, bool) => [op.key, op.kind === 'set' ? op.encoded : null, op.version, bool(op.kind === 'delete')],
    // The number as the default codec encodes it: the value column holds JSON text.
    mergeValues: (op, bool) => [op.key, JSON.stringify(op.operand), op.version, bool(false)],
    rowKey: (row) => textOf(row.key),
    rowEntry: (row) => ({ version: Number(row.version), encoded: textOf(row.value) }),
  }
}

/** Validates a user's `TableMapping` and resolves it; every bad field throws an `InvalidOptionError` naming it. */
export function mappedTable(mapping: TableMapping, option = 'table'): ResolvedTable {
  if (typeof mapping !== 'object' || mapping === null) throw invalid(option, 'a table name or a mapping object', mapping)
  const keyColumns = columnList(mapping.key, `${option}.key`)
  const counter = optionalColumn(mapping.counter, `${option}.counter`)
  const converters = valueConverters(mapping, counter, option)
  const keyToColumns = checkFunction(mapping.keyToColumns, `${option}.keyToColumns`) ?? ((key: string) => [key])
  if (keyColumns.length > 1 && mapping.keyToColumns === undefined) {
    throw invalid(`${option}.keyToColumns`, `a function when ${option}.key names more than one column`, mapping.keyToColumns)
  }
  if (keyColumns.length > 1 && mapping.columnsToKey === undefined) {
    throw invalid(`${option}.columnsToKey`, `a function when ${option}.key names more than one column`, mapping.columnsToKey)
  }
  const valueColumns = converters.map(([column]) => column)
  const single = keyColumns[0] as string
  const columnsToKey = checkFunction(mapping.columnsToKey, `${option}.columnsToKey`) ?? ((row: SqlRow) => textOf(row[single]))
  const fromRow = checkFunction(mapping.fromRow, `${option}.fromRow`) ?? (counter === undefined ? (row: SqlRow) => pick(row, valueColumns) : (row: SqlRow) => numberOf(row[counter]))
  const versionColumn = optionalColumn(mapping.version, `${option}.version`)
  const deletedColumn = optionalColumn(mapping.deleted, `${option}.deleted`)
  if (counter !== undefined && versionColumn === undefined) {
    throw invalid(`${option}.version`, `a version column when ${option}.counter is set (a merge op is applied exactly once only when fenced by version)`, mapping.version)
  }
  return {
    builtIn: false,
    nameParts: validateTableName(mapping.name, `${option}.name`),
    keyColumns,
    valueColumns,
    versionColumn,
    deletedColumn,
    updatedAtColumn: optionalColumn(mapping.updatedAt, `${option}.updatedAt`),
    counterColumn: counter,
    merges: counter === undefined ? [] : ALL_MERGES,
    keyValues: (key) => checkedKeyValues(keyToColumns(key), keyColumns.length, key),
    rowValues: (op, bool) => {
      const values = checkedKeyValues(keyToColumns(op.key), keyColumns.length, op.key).slice()
      for (const [, fn] of converters) values.push(op.kind === 'set' ? fn(op.value, op.key) : null)
      if (versionColumn !== undefined) values.push(op.version)
      if (deletedColumn !== undefined) values.push(bool(op.kind === 'delete'))
      return values
    },
    mergeValues: (op, bool) => {
      const values = [...checkedKeyValues(keyToColumns(op.key), keyColumns.length, op.key), op.operand, op.version]
      if (deletedColumn !== undefined) values.push(bool(false))
      return values
    },
    rowKey: columnsToKey,
    rowEntry: (row) => ({ version: versionColumn === undefined ? 0 : Number(row[versionColumn]), value: fromRow(row) }),
  }
}

type Converter = (value: unknown, key: string) => unknown

/** The value columns and their converters; with a counter, only that column (written as the value by default). */
function valueConverters(mapping: TableMapping, counter: string | undefined, option: string): [string, Converter][] {
  const columns = mapping.columns as unknown
  if (counter !== undefined && columns === undefined) return [[counter, (value) => value]]
  if (typeof columns !== 'object' || columns === null || Object.keys(columns).length === 0) {
    throw invalid(`${option}.columns`, 'an object mapping at least one column name to a function', columns)
  }
  const converters = Object.entries(columns as Record<string, Converter>)
  for (const [column, fn] of converters) {
    validateIdentifier(column, `${option}.columns`)
    if (typeof fn !== 'function') throw invalid(`${option}.columns.${column}`, 'a function', fn)
  }
  if (counter !== undefined && (converters.length !== 1 || converters[0]?.[0] !== counter)) {
    throw invalid(`${option}.columns`, `left out, or mapping only the counter column "${counter}" (with ${option}.counter a key's value is that number)`, columns)
  }
  return converters
}

/** A counter column as a number: drivers return bigint and numeric columns as strings. */
function numberOf(value: unknown): unknown {
  return typeof value === 'string' || typeof value === 'bigint' ? Number(value) : value
}

function columnList(key: unknown, option: string): readonly string[] {
  const list = typeof key === 'string' ? [key] : key
  if (!Array.isArray(list) || list.length === 0) throw invalid(option, 'a column name or a non-empty array of them', key)
  return list.map((column) => validateIdentifier(column, option))
}

function optionalColumn(column: unknown, option: string): string | undefined {
  return column === undefined ? undefined : validateIdentifier(column, option)
}

function checkedKeyValues(values: readonly unknown[], expected: number, key: string): readonly unknown[] {
  if (!Array.isArray(values) || values.length !== expected) {
    throw new TypeError(`keyToColumns("${key}") must return an array of ${expected} value(s)`)
  }
  return values
}

function pick(row: SqlRow, columns: readonly string[]): SqlRow {
  const out: SqlRow = {}
  for (const column of columns) out[column] = row[column]
  return out
}

/** Drivers return text as strings, and binary keys (MySQL VARBINARY) as Buffers. */
function textOf(value: unknown): string {
  if (typeof value === 'string') return value
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8')
  return String(value)
}
