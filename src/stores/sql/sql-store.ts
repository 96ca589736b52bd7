/**
 * The one SQL store core behind PostgresStore, MySqlStore and SqliteStore. It owns what the Store
 * contract asks of every SQL database: ordering duplicate keys into rounds (batch-plan.ts), mapping
 * ops to rows, chunked versioned upserts and merge upserts run as ONE transaction per batch,
 * tombstones, loads, per-op failures, fenced counts, superseded ops, tombstone purges and `check()`
 * (with table-access.ts, which also turns driver errors into `StoreError`s). Dialects only supply
 * SQL text, limits and error classification; executors only run statements on a driver.
 */
import type { BatchResult, LoadedEntry, MergeKind, OpFailure, Store, StoreMergeOp, StoreOp, SupersededOp } from '../../contracts/store.js'
import { InvalidOptionError } from '../../errors.js'
import { checkNumber, invalid } from '../../validate/check.js'
import type { ChunkLimits, ExecResult, PreparedRow, SqlDialect, SqlExecutor, Statement } from './sql-dialect.js'
import { notANumber, prepareRounds, settle, type Settled } from './batch-plan.js'
import { deleteStatements, highestVersionStatement, loadStatements, mergeStatements, perRowUpsert, purgeStatement, tableName, upsertStatements } from './statements.js'
import { TableAccess } from './table-access.js'
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

/** @internal A dialect's default statement limits. */
export interface StatementDefaults {
  readonly maxRows: number
  readonly maxBytes: number
}

/** Keys per `SELECT` in `load`. */
const LOAD_CHUNK = 1000

export class SqlStore implements Store {
  /**
   * The merge ops this store applies: `sum`, `max` and `min` on the built-in table (its value is
   * the JSON text of a number) and on a mapped table with a `counter` column; none otherwise.
   */
  readonly merges: readonly MergeKind[]
  /** @internal The table this store writes, resolved and validated. */
  protected readonly table: ResolvedTable
  private readonly limits: ChunkLimits
  private readonly createTable: boolean
  private readonly access: TableAccess
  private ready: Promise<void> | undefined
  private closing: Promise<void> | undefined

  /** @internal each dialect's store (SqliteStore, PostgresStore, MySqlStore) passes its own parts */
  constructor(
    /** @internal */
    protected readonly dialect: SqlDialect,
    /** @internal */
    protected readonly executor: SqlExecutor,
    options: SqlStoreOptions,
    defaults: StatementDefaults,
  ) {
    const table = options.table ?? DEFAULT_TABLE
    this.table = typeof table === 'string' ? builtInTable(table) : mappedTable(table)
    this.merges = this.table.merges
    this.limits = {
      maxRows: checkNumber(options.maxRowsPerStatement, 'maxRowsPerStatement', { min: 1, integer: true }) ?? defaults.maxRows,
      maxBytes: checkNumber(options.maxStatementBytes, 'maxStatementBytes', { min: 1, integer: true }) ?? defaults.maxBytes,
    }
    if (options.createTable === true && !this.table.builtIn) {
      throw invalid('createTable', 'false or unset with a table mapping (a mapped table is yours and is never created)', true)
    }
    this.createTable = this.table.builtIn && options.createTable !== false
    this.access = new TableAccess(dialect, executor, this.table, this.createTable)
  }

  /** Creates the built-in table if it is missing. Called by the first write or load; safe to call again. */
  async init(): Promise<void> {
    this.ready ??= (this.createTable ? this.access.ensure() : Promise.resolve()).catch((error: unknown) => {
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
    await this.access.check()
    this.ready ??= Promise.resolve()
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
   * row's. A merge op adds to, raises or lowers the stored number in the statement that writes it
   * (a missing row or a tombstone starts from its operand); several ops of one key apply in version
   * order, each fenced on its own. Ops whose mapping throws fail on their own (`failures`); a
   * database error fails the whole batch with a `StoreError` whose `retryable` says whether a retry
   * can help. Rows a statement left untouched are read back by one `SELECT` of their keys after
   * the commit (none when every row applied): ops fenced by a strictly newer version are listed in
   * `superseded`, and a merge op newer than the stored row, which was left untouched because the
   * stored value is not a number, fails on its own (`E_STORE_NOT_A_NUMBER`).
   */
  async writeBatch(ops: readonly StoreOp[]): Promise<BatchResult> {
    if (ops.length === 0) return {}
    await this.init()
    const { rounds, failures } = prepareRounds(ops, this.table, this.dialect.bool, this.constructor.name)
    const statements = rounds.flatMap((rows) => this.plan(rows))
    let skippedUpserts = 0
    const suspects = new Set<string>()
    if (statements.length > 0) {
      const results = await this.guard('write a batch', () => this.executor.transaction(statements))
      statements.forEach((statement, i) => {
        const result = results[i]
        if (result === undefined) return
        const skipped = this.skipped(statement, result)
        if (statement.fencedUpsert) skippedUpserts += skipped
        if (skipped > 0 && statement.batchRows !== undefined) for (const row of statement.batchRows) suspects.add(row.key)
      })
    }
    const { superseded, notNumbers } = suspects.size > 0 ? settle(ops, suspects, await this.access.storedVersions(suspects)) : NOTHING_SETTLED
    for (const index of notNumbers) failures.push({ index, error: notANumber(ops[index] as StoreMergeOp) })
    // A merge left untouched because the stored value is no number was skipped, not fenced.
    const out: { fenced: number; failures?: OpFailure[]; superseded?: readonly SupersededOp[] } = { fenced: skippedUpserts - notNumbers.length }
    if (failures.length > 0) out.failures = failures.sort((a, b) => a.index - b.index)
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
   * The version held for each of `keys`, tombstones included; `undefined` for a table without a
   * version or a deleted column (a delete there leaves no row to tell it by).
   */
  async versions(keys: readonly string[]): Promise<Map<string, number> | undefined> {
    if (this.table.versionColumn === undefined || this.table.deletedColumn === undefined) return undefined
    const wanted = new Set(keys.filter((key) => tryKeyValues(this.table, key) !== undefined))
    if (wanted.size === 0) return new Map()
    await this.init()
    return this.access.storedVersions(wanted)
  }

  /**
   * Deletes tombstones last written more than `olderThanMs` ago and returns how many went. A
   * purged tombstone no longer fences: pick an age longer than any redelivery can take (retries,
   * log replay after a crash, dead-letter replays), or an older set could resurrect the key.
   */
  async purgeTombstones(olderThanMs: number): Promise<number> {
    checkNumber(olderThanMs, 'olderThanMs', { min: 0, finite: true, required: true })
    const text = purgeStatement(this.dialect, this.table)
    if (text === undefined) throw new InvalidOptionError('table', 'purgeTombstones needs a table with deleted and updatedAt columns')
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
    if (statement.echoed === true) return Math.max(0, this.dialect.fenced(result, statement.rows + 1) - 1)
    if (statement.fencedUpsert) return this.dialect.fenced(result, statement.rows)
    if (statement.batchRows === undefined || this.table.versionColumn === undefined) return 0
    return Math.max(0, statement.rows - result.rowCount)
  }

  /**
   * One round's statements (each key at most once): upserts (sets, and deletes as tombstones),
   * merge upserts (one kind per statement), then plain deletes for tables without tombstones.
   */
  private plan(rows: readonly PreparedRow[]): Statement[] {
    const keepsTombstones = this.table.deletedColumn !== undefined
    const upserts: PreparedRow[] = []
    const removes: PreparedRow[] = []
    const merges = new Map<MergeKind, PreparedRow[]>()
    for (const row of rows) {
      if (row.merge !== undefined) {
        const same = merges.get(row.merge)
        if (same === undefined) merges.set(row.merge, [row])
        else same.push(row)
      } else if (row.deleted && !keepsTombstones) removes.push(row)
      else upserts.push(row)
    }
    const statements: Statement[] = []
    if (upserts.length > 0) statements.push(...this.upserts(upserts))
    for (const [kind, part] of merges) statements.push(...this.mergeUpserts(kind, part))
    if (removes.length > 0) statements.push(...deleteStatements(this.dialect, this.table, removes, this.limits))
    return statements
  }

  private upserts(rows: readonly PreparedRow[]): Statement[] {
    const { dialect, table, limits } = this
    if (dialect.preparedPerRow === true && limits.maxRows === 1) return [perRowUpsert(dialect, table, rows)]
    const fast = dialect.fastUpsert?.(tableName(dialect, table), table, rows, limits)
    return fast ?? upsertStatements(dialect, table, rows, limits)
  }

  private mergeUpserts(kind: MergeKind, rows: readonly PreparedRow[]): Statement[] {
    const { dialect, table, limits } = this
    if (dialect.preparedPerRow === true && limits.maxRows === 1) return [perRowUpsert(dialect, table, rows, kind)]
    return mergeStatements(dialect, table, kind, rows, limits)
  }

  /** Runs `fn`, turning a driver error into a `StoreError` that says whether a retry can help. */
  private guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return this.access.guard(what, fn)
  }
}

const NOTHING_SETTLED: Settled = { superseded: [], notNumbers: [] }

function tryKeyValues(table: ResolvedTable, key: string): readonly unknown[] | undefined {
  try {
    return table.keyValues(key)
  } catch {
    return undefined
  }
}
