/**
 * The one SQL store core behind PostgresStore, MySqlStore and SqliteStore. It owns what the Store
 * contract asks of every SQL database: collapsing duplicate keys, mapping ops to rows, chunked
 * versioned upserts run as ONE transaction per batch, tombstones, loads, per-op failures, fenced
 * counts, tombstone purges and turning driver errors into `StoreError`s. Dialects only supply SQL
 * text, limits and error classification; executors only run statements on a driver.
 */
import type { BatchResult, LoadedEntry, OpFailure, Store, StoreOp, SupersededOp } from '../../contracts/store.js'
import { StoreError } from '../../errors.js'
import { advice } from './error-classes.js'
import type { ExecResult, PreparedRow, SqlDialect, SqlExecutor, Statement } from './sql-dialect.js'
import {
  type ChunkLimits,
  deleteStatements,
  highestVersionStatement,
  loadStatements,
  perRowUpsert,
  purgeStatement,
  tableName,
  tableProbe,
  upsertStatements,
  versionStatements,
  writeProbes,
} from './statements.js'
import { builtInTable, DEFAULT_TABLE, mappedTable, type ResolvedTable, type TableMapping } from './table-mapping.js'

/** Options every SQL store shares. */
export interface SqlStoreOptions {
  /**
   * The table: a name for the built-in layout (`key`, `value`, `version`, `deleted`, `updated_at`),
   * or a `TableMapping` onto a table of your own. @default 'writebehind_entries'
   */
  table?: string | TableMapping
  /**
   * Create the built-in table (and its tombstone index) on first use if it is missing. The store
   * first reads the table (`SELECT ... WHERE 1 = 0`) and issues `CREATE TABLE` only when it is
   * missing, so a least-privilege role that may read and write the table but not create tables
   * works once the table exists. @default true
   */
  createTable?: boolean
  /** Most rows in one statement; a batch larger than this becomes several statements in one transaction. */
  maxRowsPerStatement?: number
  /**
   * Most bytes of bound values in one statement (estimated at 3 bytes per character), to stay under
   * the server's packet limit. @default 16 MiB for PostgreSQL and SQLite, 4 MiB for MySQL
   */
  maxStatementBytes?: number
}

/** A dialect's default statement limits. */
export interface StatementDefaults {
  readonly maxRows: number
  readonly maxBytes: number
}

/** Keys per `SELECT` in `load`. */
const LOAD_CHUNK = 1000

export class SqlStore implements Store {
  /** The table this store writes, resolved and validated. */
  protected readonly table: ResolvedTable
  private readonly limits: ChunkLimits
  private readonly createTable: boolean
  private ready: Promise<void> | undefined
  private closing: Promise<void> | undefined

  constructor(
    protected readonly dialect: SqlDialect,
    protected readonly executor: SqlExecutor,
    options: SqlStoreOptions,
    defaults: StatementDefaults,
  ) {
    const table = options.table ?? DEFAULT_TABLE
    this.table = typeof table === 'string' ? builtInTable(table) : mappedTable(table)
    this.limits = {
      maxRows: positiveInteger(options.maxRowsPerStatement ?? defaults.maxRows, 'maxRowsPerStatement'),
      maxBytes: positiveInteger(options.maxStatementBytes ?? defaults.maxBytes, 'maxStatementBytes'),
    }
    if (options.createTable === true && !this.table.builtIn) {
      throw new TypeError('createTable cannot be true with a table mapping: a mapped table is yours and is never created')
    }
    this.createTable = this.table.builtIn && options.createTable !== false
  }

  /** Creates the built-in table if it is missing. Called by the first write or load; safe to call again. */
  async init(): Promise<void> {
    this.ready ??= (this.createTable ? this.ensureTable() : Promise.resolve()).catch((error: unknown) => {
      this.ready = undefined
      throw error
    })
    return this.ready
  }

  /**
   * Verifies the store can take writes, changing no row: the server answers and authenticates
   * this role, the table exists (the built-in one is created if missing and `createTable` allows)
   * and is readable (`SELECT * ... WHERE 1 = 0`), and writable: the store's own fenced upsert is
   * run fed by a `SELECT` of zero rows (plus an empty `DELETE` for a table without tombstones), so
   * the server checks the INSERT, UPDATE (and DELETE) privileges, the columns the store writes and
   * a read-only database, and writes nothing. Throws a `StoreError` naming the cause and the fix.
   */
  async check(): Promise<void> {
    await this.ensureTable()
    this.ready ??= Promise.resolve()
    for (const probe of writeProbes(this.dialect, this.table)) {
      await this.guard(`write to the table ${this.tableLabel()}`, () => this.executor.query(probe, []))
    }
  }

  /**
   * The highest version held for any key, tombstones included (0 for an empty table, or for a
   * mapped table without a version column, which is not fenced). A `SELECT max(version)`: with the
   * built-in table's primary key alone this scans the table (seconds on tens of millions of rows);
   * an index on the version column makes it instant. The cache calls it once, at open.
   */
  async highestVersion(): Promise<number> {
    const text = highestVersionStatement(this.dialect, this.table)
    if (text === undefined) return 0
    await this.init()
    const result = await this.guard('read the highest version', () => this.executor.query(text, []))
    const max = result.rows[0]?.wb_max
    return max === null || max === undefined ? 0 : Number(max)
  }

  /**
   * Applies the batch as one transaction: an op applies only if its version is newer than the
   * row's. Ops whose mapping throws fail on their own (`failures`); a database error fails the
   * whole batch with a `StoreError` whose `retryable` says whether a retry can help. Ops the store
   * refused because it holds a strictly newer version are listed in `superseded`, read by one
   * `SELECT` of the fenced statements' keys after the commit (none when nothing was fenced).
   */
  async writeBatch(ops: readonly StoreOp[]): Promise<BatchResult> {
    if (ops.length === 0) return {}
    await this.init()
    const { rows, failures } = this.prepare(ops)
    const statements = this.plan(rows)
    let fenced = 0
    const suspects: PreparedRow[] = []
    if (statements.length > 0) {
      const results = await this.guard('write a batch', () => this.executor.transaction(statements))
      statements.forEach((statement, i) => {
        const result = results[i]
        if (result === undefined) return
        const skipped = this.skipped(statement, result)
        if (statement.fencedUpsert) fenced += skipped
        if (skipped > 0 && statement.batchRows !== undefined) suspects.push(...statement.batchRows)
      })
    }
    const superseded = suspects.length > 0 ? await this.superseded(ops, suspects) : []
    const out: { fenced: number; failures?: OpFailure[]; superseded?: SupersededOp[] } = { fenced }
    if (failures.length > 0) out.failures = failures
    if (superseded.length > 0) out.superseded = superseded
    return out
  }

  /** Reads live values; absent and tombstoned keys are left out. Keys the mapping rejects are absent. */
  async load(keys: readonly string[]): Promise<Map<string, LoadedEntry>> {
    const out = new Map<string, LoadedEntry>()
    const tuples: (readonly unknown[])[] = []
    for (const key of new Set(keys)) {
      const values = tryKeyValues(this.table, key)
      if (values !== undefined) tuples.push(values)
    }
    if (tuples.length === 0) return out
    await this.init()
    for (const statement of loadStatements(this.dialect, this.table, tuples, LOAD_CHUNK)) {
      const result = await this.guard('load keys', () => this.executor.query(statement.text, statement.params))
      for (const row of result.rows) out.set(this.table.rowKey(row), this.table.rowEntry(row))
    }
    return out
  }

  /**
   * Deletes tombstones last written more than `olderThanMs` ago and returns how many went. A
   * purged tombstone no longer fences: pick an age longer than any redelivery can take (retries,
   * log replay after a crash, dead-letter replays), or an older set could resurrect the key.
   */
  async purgeTombstones(olderThanMs: number): Promise<number> {
    if (typeof olderThanMs !== 'number' || !Number.isFinite(olderThanMs) || olderThanMs < 0) {
      throw new TypeError(`olderThanMs must be a finite number ≥ 0; got ${String(olderThanMs)}`)
    }
    const text = purgeStatement(this.dialect, this.table)
    if (text === undefined) throw new TypeError('purgeTombstones needs a table with deleted and updatedAt columns')
    await this.init()
    const result = await this.guard('purge tombstones', () => this.executor.query(text, [olderThanMs]))
    return result.rowCount
  }

  /**
   * A `SELECT 1` round trip: the cache's open circuit probes with it, so an outage does not spend
   * the retry budget of real entries. Rejects with a retryable `StoreError` while the server is down.
   */
  async ping(): Promise<void> {
    await this.guard('ping the server', () => this.executor.query('SELECT 1', []))
  }

  /** Releases what the store owns. A pool you passed in stays open: end it yourself. Safe to call twice. */
  async close(): Promise<void> {
    this.closing ??= this.executor.close()
    return this.closing
  }

  /** How many rows of a write statement did not apply (fenced upserts; versioned deletes that matched no row). */
  private skipped(statement: Statement, result: ExecResult): number {
    if (statement.fencedUpsert) return this.dialect.fenced(result, statement.rows)
    if (statement.batchRows === undefined || this.table.versionColumn === undefined) return 0
    return Math.max(0, statement.rows - result.rowCount)
  }

  /** The ops of `ops` whose key the store holds at a STRICTLY newer version, with that version. */
  private async superseded(ops: readonly StoreOp[], suspects: readonly PreparedRow[]): Promise<SupersededOp[]> {
    const keys = new Set(suspects.map((row) => row.key))
    const tuples = [...keys].map((key) => this.table.keyValues(key))
    const stored = new Map<string, number>()
    const version = this.table.versionColumn as string
    for (const statement of versionStatements(this.dialect, this.table, tuples, LOAD_CHUNK)) {
      const result = await this.guard('read the versions of fenced keys', () => this.executor.query(statement.text, statement.params))
      for (const row of result.rows) stored.set(this.table.rowKey(row), Number(row[version]))
    }
    // A key is superseded when the store holds a version above every op of the key in this batch
    // (an older duplicate overwritten by the batch's own newer op is not news); then all its ops are.
    const newest = new Map<string, number>()
    for (const op of ops) if (keys.has(op.key)) newest.set(op.key, Math.max(op.version, newest.get(op.key) ?? 0))
    const out: SupersededOp[] = []
    ops.forEach((op, index) => {
      const held = keys.has(op.key) ? stored.get(op.key) : undefined
      if (held !== undefined && held > (newest.get(op.key) as number)) out.push({ index, version: held })
    })
    return out
  }

  /**
   * Reads the table (no row); creates the built-in one if it is missing and `createTable` allows.
   * A role that may not create tables is told so, with the DDL to run.
   */
  private async ensureTable(): Promise<void> {
    const probe = tableProbe(this.dialect, this.table)
    try {
      await this.executor.query(probe, [])
      return
    } catch (error) {
      const { cause } = this.dialect.classify(error)
      const maybeMissing = cause === 'table' || (cause === 'privilege' && this.dialect.hidesMissingTables === true)
      if (!this.createTable || !maybeMissing) throw this.storeError(`read the table ${this.tableLabel()}`, error)
    }
    const ddl = this.dialect.createTable(tableName(this.dialect, this.table), this.table)
    for (const statement of ddl) {
      try {
        await this.executor.query(statement, [])
      } catch (error) {
        const { cause } = this.dialect.classify(error)
        if (cause !== 'privilege' && cause !== 'read-only') throw this.storeError('create the table', error)
        throw new StoreError(
          `${this.dialect.label} has no table ${this.tableLabel()}${this.dialect.hidesMissingTables === true ? ' (or this role may not read it: the server reports both alike)' : ''} ` +
            `and this role may not create it: ${message(error)}. ` +
            `Create it with a role that may (or run your migration), then grant this role SELECT, INSERT and UPDATE on it: ${ddl.join('; ')}. ` +
            'Writes are kept and retried until it is fixed.',
          { retryable: true, scope: 'store', cause: error },
        )
      }
    }
  }

  private tableLabel(): string {
    return this.table.nameParts.join('.')
  }

  /** Collapses duplicate keys to their highest version and maps ops to rows, isolating bad ops. */
  private prepare(ops: readonly StoreOp[]): { rows: PreparedRow[]; failures: OpFailure[] } {
    const rows: PreparedRow[] = []
    const failed = new Map<string, Error>()
    for (const index of latestPerKey(ops)) {
      const op = ops[index] as StoreOp
      try {
        rows.push(this.toRow(op, index))
      } catch (error) {
        failed.set(op.key, mappingError(op, error))
      }
    }
    const failures: OpFailure[] = []
    if (failed.size > 0) {
      ops.forEach((op, index) => {
        const error = failed.get(op.key)
        if (error !== undefined) failures.push({ index, error })
      })
    }
    return { rows, failures }
  }

  private toRow(op: StoreOp, index: number): PreparedRow {
    if (!Number.isSafeInteger(op.version) || op.version <= 0) throw new TypeError(`version must be a positive safe integer; got ${op.version}`)
    const deleted = op.kind === 'delete'
    const values = this.table.rowValues(op, this.dialect.bool)
    const bytes = 64 + op.key.length * 3 + (deleted ? 0 : op.encoded.length * 3)
    return { index, key: op.key, version: op.version, deleted, values, bytes }
  }

  /** Upserts (sets, and deletes as tombstones) then plain deletes for tables without tombstones. */
  private plan(rows: readonly PreparedRow[]): Statement[] {
    const keepsTombstones = this.table.deletedColumn !== undefined
    const upserts = keepsTombstones ? rows : rows.filter((row) => !row.deleted)
    const removes = keepsTombstones ? [] : rows.filter((row) => row.deleted)
    const statements: Statement[] = []
    if (upserts.length > 0) {
      statements.push(...this.upserts(upserts))
    }
    if (removes.length > 0) statements.push(...deleteStatements(this.dialect, this.table, removes, this.limits))
    return statements
  }

  private upserts(rows: readonly PreparedRow[]): Statement[] {
    const { dialect, table, limits } = this
    if (dialect.preparedPerRow === true && limits.maxRows === 1) return [perRowUpsert(dialect, table, rows)]
    const fast = dialect.fastUpsert?.(tableName(dialect, table), table, rows, limits)
    return fast ?? upsertStatements(dialect, table, rows, limits)
  }

  /** Runs `fn`, turning a driver error into a `StoreError` that says whether a retry can help. */
  private async guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (error) {
      throw this.storeError(what, error)
    }
  }

  /**
   * A driver error as a `StoreError`: store-wide causes (connection, auth, missing database, table
   * or column, privilege, read-only, driver) are retryable, data errors are not (error-classes.ts).
   */
  private storeError(what: string, error: unknown): StoreError {
    if (error instanceof StoreError) return error
    const { scope, cause } = this.dialect.classify(error)
    return new StoreError(`${this.dialect.label} could not ${what}: ${message(error)}. ${advice(cause)}`, { retryable: scope === 'store', scope, cause: error })
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Indices of the highest-version op of each key (the last one on a tie), in first-seen key order. */
function latestPerKey(ops: readonly StoreOp[]): Iterable<number> {
  const latest = new Map<string, number>()
  for (let index = 0; index < ops.length; index++) {
    const op = ops[index] as StoreOp
    const held = latest.get(op.key)
    if (held === undefined || (ops[held] as StoreOp).version <= op.version) latest.set(op.key, index)
  }
  return latest.size === ops.length ? ops.keys() : latest.values()
}

function tryKeyValues(table: ResolvedTable, key: string): readonly unknown[] | undefined {
  try {
    return table.keyValues(key)
  } catch {
    return undefined
  }
}

function mappingError(op: StoreOp, cause: unknown): StoreError {
  const reason = cause instanceof Error ? cause.message : String(cause)
  return new StoreError(`Cannot map the write to "${op.key}" (version ${op.version}) onto the table: ${reason}. Fix the value or the table mapping.`, {
    retryable: false,
    cause,
    code: 'E_STORE_MAPPING',
  })
}

function positiveInteger(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new TypeError(`${option} must be a positive integer; got ${String(value)}`)
  }
  return value
}
