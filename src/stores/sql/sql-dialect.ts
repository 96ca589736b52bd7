/**
 * What a dialect tells the SQL core: how to quote, where parameters go, how its upsert fences,
 * what its default table looks like, how to count fenced rows and which errors are worth a retry.
 * An executor runs statements on the user's driver. Both are small so each dialect stays thin.
 */
import type { MergeKind } from '../../contracts/store.js'
import type { Classified } from './error-classes.js'
import type { ResolvedTable, SqlRow } from './table-mapping.js'

/** One SQL statement with its bound parameters. Values are always bound, never spliced in. */
export interface Statement {
  readonly text: string
  readonly params: readonly unknown[]
  /** How many ops (rows) the statement writes; 0 for statements that are not writes. */
  readonly rows: number
  /** Whether the statement is a fenced upsert (its result tells how many rows were fenced). */
  readonly fencedUpsert: boolean
  /**
   * Only for dialects with `preparedPerRow`: run `text` once per parameter list (then `params` is
   * empty), in the same transaction; the result's rowCount is the sum over the runs.
   */
  readonly each?: readonly (readonly unknown[])[]
  /**
   * True when the statement sends its one row twice (`SqlDialect.echoesSingleRow`): the copy is
   * always fenced, and is taken off the fenced count.
   */
  readonly echoed?: boolean
  /** The rows a write statement carries (to look up the stored versions of fenced ones). */
  readonly batchRows?: readonly PreparedRow[]
}

/** What the core needs from a driver's answer. */
export interface ExecResult {
  /** Rows written (affected rows) for writes; rows returned for reads. */
  readonly rowCount: number
  readonly rows: readonly SqlRow[]
  /** MySQL's info string (`Records: 3  Duplicates: 1  Warnings: 0`), when the driver gives one. */
  readonly info?: string
}

/** Runs statements on the user's connection(s). */
export interface SqlExecutor {
  /** Runs the statements as ONE transaction (all or nothing) and returns one result per statement. */
  transaction(statements: readonly Statement[]): Promise<ExecResult[]>
  /** Runs one statement on its own (loads, DDL, purges). */
  query(text: string, params: readonly unknown[]): Promise<ExecResult>
  /** Releases what the executor owns (not a pool the user passed in). */
  close(): Promise<void>
}

/** Limits on one statement. */
export interface ChunkLimits {
  readonly maxRows: number
  readonly maxBytes: number
}

/** A row to write: the op's index in the batch and the values of the table's columns, in order. */
export interface PreparedRow {
  readonly index: number
  readonly key: string
  readonly version: number
  readonly deleted: boolean
  /** Set for a merge op: how its number combines with the stored one (its `values` are `mergeColumns`). */
  readonly merge?: MergeKind
  /**
   * Key columns, value columns, version, deleted (those the table has), as bound parameters; for a
   * merge op, key columns, the counter column (the operand), version, deleted (`mergeColumns`).
   */
  readonly values: readonly unknown[]
  /** Approximate size in bytes of the row's parameters, to keep statements under packet limits. */
  readonly bytes: number
}

export interface SqlDialect {
  /** The product name used in error messages, such as `PostgreSQL`. */
  readonly label: string
  /** Most bound parameters one statement may carry. */
  readonly maxParams: number
  /** With one row per statement, send one prepared statement and its rows (`Statement.each`). */
  readonly preparedPerRow?: boolean
  quote(identifier: string): string
  /** The SQL text of the `n`-th (1-based) parameter: `$n` or `?`. */
  placeholder(n: number): string
  /** A JS boolean as the driver should bind it (SQLite binds 1/0). */
  readonly bool: (value: boolean) => unknown
  /** The SQL expression for "now" written into `updated_at`. */
  readonly now: string
  /** DDL creating the built-in table (and its index) if missing; `name` is already quoted. */
  createTable(name: string, table: ResolvedTable): readonly string[]
  /**
   * `INSERT ... <source> <conflict clause>` for the table, fenced when it has a version column;
   * `source` is `VALUES (...), (...)` or a `SELECT` (the no-op write probe of `check()`).
   */
  upsert(name: string, table: ResolvedTable, columns: readonly string[], source: string): string
  /**
   * The fenced upsert of merge ops of one `kind`: inserts the row as given where the key has none,
   * and where it has one with an older version, combines the stored counter column with the
   * incoming one (a tombstone starts from the incoming one), but only if the stored column holds a
   * number (`NumberSql.isNumber`): a row left untouched is read back as fenced or not a number.
   */
  mergeUpsert(name: string, table: ResolvedTable, columns: readonly string[], source: string, kind: MergeKind): string
  /** The SQL expression reading the built-in `value` column as text (not parsed JSON). */
  valueAsText(column: string): string
  /** The condition `updatedAt` is older than `olderThanMs` (bound as parameter `n`). */
  olderThan(updatedAt: string, n: number): string
  /** How many rows of an upsert statement were fenced, from its result. */
  fenced(result: ExecResult, rows: number): number
  /**
   * True when the result of a ONE-row upsert cannot tell a fenced row from an inserted one (MySQL
   * gives its `Duplicates:` figure only for several rows). The core then sends the row twice: the
   * copy carries the same version, so the row itself always fences it and it changes nothing,
   * while the statement's figures become readable. Only for a table with a version column.
   */
  readonly echoesSingleRow?: boolean
  /**
   * True when the server answers "permission denied" for a table that does not exist, to a role
   * without privileges on it (MySQL), so a denied read may mean a missing table.
   */
  readonly hidesMissingTables?: boolean
  /** Whether the error hits the whole store (retryable) or this data (not), and why: see error-classes.ts. */
  classify(error: unknown): Classified
  /** A faster dialect-specific upsert for these rows, or undefined to use multi-row VALUES. */
  fastUpsert?(name: string, table: ResolvedTable, rows: readonly PreparedRow[], limits: ChunkLimits): Statement[] | undefined
}

/**
 * How a dialect reads and combines the numbers of merge ops, on the built-in table's JSON `value`
 * or a mapped counter column (`builtIn` false). Arguments are SQL expressions; the result is one.
 */
export interface NumberSql {
  /** True when `column` holds a number (a JSON number in the built-in table; not NULL in a counter column). */
  isNumber(column: string, builtIn: boolean): string
  /** The new stored value of `stored` combined with `incoming` by `kind`, in the column's own form. */
  combine(kind: MergeKind, stored: string, incoming: string, builtIn: boolean): string
}
