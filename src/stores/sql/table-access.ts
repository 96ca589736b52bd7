/**
 * What the SQL core asks of its table beyond writes and loads: whether it is there and usable by
 * this role (read first, create only when missing, then `check()`'s no-op write probes), the
 * stored versions of keys a batch left untouched, and driver errors turned into `StoreError`s whose
 * message names the cause and the fix (error-classes.ts). One instance per store; it holds no
 * mutable state.
 */
import { StoreError } from '../../errors.js'
import { advice } from './error-classes.js'
import type { SqlDialect, SqlExecutor } from './sql-dialect.js'
import { tableName, tableProbe, versionStatements, writeProbes } from './statements.js'
import type { ResolvedTable } from './table-mapping.js'

/** Keys per `SELECT` reading stored versions. */
const VERSION_CHUNK = 1000

export class TableAccess {
  constructor(
    private readonly dialect: SqlDialect,
    private readonly executor: SqlExecutor,
    private readonly table: ResolvedTable,
    private readonly createTable: boolean,
  ) {}

  /**
   * Reads the table (no row); creates the built-in one if it is missing and `createTable` allows.
   * A role that may not create it is told so, with the DDL to run.
   */
  async ensure(): Promise<void> {
    try {
      await this.executor.query(tableProbe(this.dialect, this.table), [])
      return
    } catch (error) {
      const { cause } = this.dialect.classify(error)
      const maybeMissing = cause === 'table' || (cause === 'privilege' && this.dialect.hidesMissingTables === true)
      if (!this.createTable || !maybeMissing) throw this.storeError(`read the table ${this.label()}`, error)
    }
    const ddl = this.dialect.createTable(tableName(this.dialect, this.table), this.table)
    for (const statement of ddl) {
      try {
        await this.executor.query(statement, [])
      } catch (error) {
        const { cause } = this.dialect.classify(error)
        if (cause !== 'privilege' && cause !== 'read-only') throw this.storeError('create the table', error)
        throw this.creationRefused(ddl, error)
      }
    }
  }

  /** `ensure()`, then the no-op write probes: privileges, columns and a read-only database, no row changed. */
  async check(): Promise<void> {
    await this.ensure()
    for (const probe of writeProbes(this.dialect, this.table)) {
      await this.guard(`write to the table ${this.label()}`, () => this.executor.query(probe, []))
    }
  }

  /**
   * The versions the store holds for `keys` (tombstones included; a key without a row is absent),
   * read by one `SELECT` per chunk of keys: after a batch, for the keys of rows its statements left
   * untouched (batch-plan.ts `settle`). Empty for a table without a version column.
   */
  async storedVersions(keys: ReadonlySet<string>): Promise<Map<string, number>> {
    const stored = new Map<string, number>()
    const version = this.table.versionColumn
    if (version === undefined) return stored
    const tuples = [...keys].map((key) => this.table.keyValues(key))
    for (const statement of versionStatements(this.dialect, this.table, tuples, VERSION_CHUNK)) {
      const result = await this.guard('read the versions of fenced keys', () => this.executor.query(statement.text, statement.params))
      for (const row of result.rows) stored.set(this.table.rowKey(row), Number(row[version]))
    }
    return stored
  }

  /** Runs `fn`, turning a driver error into a `StoreError` that says whether a retry can help. */
  async guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
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
  storeError(what: string, error: unknown): StoreError {
    if (error instanceof StoreError) return error
    const { scope, cause } = this.dialect.classify(error)
    return new StoreError(`${this.dialect.label} could not ${what}: ${message(error)}. ${advice(cause)}`, { retryable: scope === 'store', scope, cause: error })
  }

  private creationRefused(ddl: readonly string[], error: unknown): StoreError {
    const hidden = this.dialect.hidesMissingTables === true ? ' (or this role may not read it: the server reports both alike)' : ''
    return new StoreError(
      `${this.dialect.label} has no table ${this.label()}${hidden} and this role may not create it: ${message(error)}. ` +
        `Create it with a role that may (or run your migration), then grant this role SELECT, INSERT and UPDATE on it: ${ddl.join('; ')}. ` +
        'Writes are kept and retried until it is fixed.',
      { retryable: true, scope: 'store', cause: error },
    )
  }

  private label(): string {
    return this.table.nameParts.join('.')
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
