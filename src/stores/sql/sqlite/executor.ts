/**
 * Runs statements on better-sqlite3, through the small structural subset declared here. Opens the
 * database itself from a path (a dynamic import, so better-sqlite3 stays an optional peer
 * dependency) in WAL mode, or uses an open Database. better-sqlite3 is synchronous, so a batch's
 * transaction cannot interleave with another; prepared statements are cached by SQL text.
 */
import { StoreError } from '../../../errors.js'
import { toError } from '../../../to-error.js'
import type { ExecResult, SqlExecutor, Statement } from '../sql-dialect.js'
import type { SqlRow } from '../table-mapping.js'

/** The part of a better-sqlite3 Statement the store calls. */
export interface SqliteStatementLike {
  readonly reader: boolean
  run(...params: unknown[]): { changes: number }
  all(...params: unknown[]): unknown[]
}

/** The part of a better-sqlite3 Database the store calls. */
export interface SqliteDatabaseLike {
  prepare(sql: string): SqliteStatementLike
  exec(sql: string): unknown
  pragma(source: string): unknown
  close(): unknown
}

/** Where the database comes from: a file path the store opens (and closes), or your open Database. */
export type SqliteSource = { path: string; database?: undefined } | { database: SqliteDatabaseLike; path?: undefined }

const STATEMENT_CACHE = 64

export class SqliteExecutor implements SqlExecutor {
  /** The open database; a failed open is forgotten, so the next call tries again (the file may be fixed). */
  private opened: Promise<SqliteDatabaseLike> | undefined
  /** Why the last open failed, until one succeeds: `close()` reports it, as a store that never opened. */
  private openError: Error | undefined
  private readonly statements = new Map<string, SqliteStatementLike>()

  constructor(private readonly source: SqliteSource) {}

  async query(text: string, params: readonly unknown[]): Promise<ExecResult> {
    return this.runOne(await this.db, { text, params })
  }

  async transaction(statements: readonly Statement[]): Promise<ExecResult[]> {
    const db = await this.db
    this.prepared(db, 'BEGIN IMMEDIATE').run()
    try {
      const results = statements.map((statement) => this.runOne(db, statement))
      this.prepared(db, 'COMMIT').run()
      return results
    } catch (error) {
      rollback(db)
      throw error
    }
  }

  /** Closes the database if the store opened it from a path; yours stays open. */
  async close(): Promise<void> {
    this.statements.clear()
    if (this.source.database !== undefined) return
    if (this.opened !== undefined) (await this.opened).close()
    else if (this.openError !== undefined) throw this.openError
  }

  private get db(): Promise<SqliteDatabaseLike> {
    if (this.source.database !== undefined) return Promise.resolve(this.source.database)
    const opening = (this.opened ??= openDatabase(this.source.path))
    opening.then(
      () => (this.openError = undefined),
      (error: unknown) => {
        this.openError = toError(error)
        if (this.opened === opening) this.opened = undefined
      },
    )
    return opening
  }

  private runOne(db: SqliteDatabaseLike, statement: Pick<Statement, 'text' | 'params' | 'each'>): ExecResult {
    const prepared = this.prepared(db, statement.text)
    if (statement.each !== undefined) {
      let changes = 0
      for (const params of statement.each) changes += prepared.run(...params).changes
      return { rowCount: changes, rows: [] }
    }
    if (prepared.reader) {
      const rows = prepared.all(...statement.params) as SqlRow[]
      return { rowCount: rows.length, rows }
    }
    return { rowCount: prepared.run(...statement.params).changes, rows: [] }
  }

  private prepared(db: SqliteDatabaseLike, text: string): SqliteStatementLike {
    let statement = this.statements.get(text)
    if (statement === undefined) {
      if (this.statements.size >= STATEMENT_CACHE) this.statements.delete(this.statements.keys().next().value as string)
      statement = db.prepare(text)
      this.statements.set(text, statement)
    }
    return statement
  }
}

/** Some errors (SQLITE_FULL, IOERR) already rolled the transaction back; a second ROLLBACK then throws. */
function rollback(db: SqliteDatabaseLike): void {
  try {
    db.exec('ROLLBACK')
  } catch {
    // already rolled back
  }
}

async function openDatabase(path: string): Promise<SqliteDatabaseLike> {
  let Database: new (path: string) => SqliteDatabaseLike
  try {
    Database = ((await import('better-sqlite3')) as unknown as { default: typeof Database }).default
  } catch (cause) {
    // Store-wide: every write fails alike until the package is installed, so the writes are kept.
    throw new StoreError('SqliteStore needs the better-sqlite3 package: npm install better-sqlite3, then restart. Writes are kept and retried until it is fixed.', {
      retryable: true,
      scope: 'store',
      cause,
    })
  }
  try {
    const db = new Database(path)
    db.pragma('journal_mode = WAL')
    // The cache deletes its log once the store has committed, so a commit must survive a power
    // loss: better-sqlite3 builds default WAL databases to synchronous=NORMAL, which may not.
    db.pragma('synchronous = FULL')
    db.pragma('busy_timeout = 5000')
    return db
  } catch (cause) {
    // SQLite's own codes (SQLITE_CANTOPEN, SQLITE_NOTADB...) are classified as store-wide by the dialect.
    if (typeof (cause as { code?: unknown }).code === 'string') throw cause
    // Anything else is store-wide too (a missing directory is a TypeError in better-sqlite3): no write can land.
    const reason = cause instanceof Error ? cause.message : String(cause)
    throw new StoreError(
      `SqliteStore cannot open the database file ${path}: ${reason}. Check that the path and its directory exist and are writable by this process. Writes are kept and retried until it is fixed.`,
      { retryable: true, scope: 'store', cause },
    )
  }
}
