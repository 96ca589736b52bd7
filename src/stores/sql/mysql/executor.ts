/**
 * Runs statements on the user's own `mysql2/promise` pool (or connection), through the small
 * structural subset declared here, so `mysql2` stays an optional peer dependency. One statement
 * is one round trip; several run on one pooled connection inside START TRANSACTION ... COMMIT.
 */
import type { ExecResult, SqlExecutor, Statement } from '../sql-dialect.js'
import type { SqlRow } from '../table-mapping.js'

/** A `mysql2/promise` Connection, or anything that runs `query(sql, values)` the same way. */
export interface MySqlQueryable {
  query(sql: string, values?: unknown): Promise<[unknown, unknown]>
}

/** A connection checked out of a `mysql2/promise` pool. */
export interface MySqlPoolConnectionLike extends MySqlQueryable {
  release(): void
  destroy?(): void
}

/** A `mysql2/promise` pool: queries, and `getConnection()` for a transaction. */
export interface MySqlPoolLike extends MySqlQueryable {
  getConnection(): Promise<MySqlPoolConnectionLike>
}

export class MySqlExecutor implements SqlExecutor {
  /** With a lone connection: the tail of the chain of transactions, so they run one at a time. */
  private tail: Promise<unknown> = Promise.resolve()

  constructor(private readonly pool: MySqlPoolLike | MySqlQueryable) {}

  async query(text: string, params: readonly unknown[]): Promise<ExecResult> {
    const [result] = await this.pool.query(text, params)
    return toResult(result)
  }

  async transaction(statements: readonly Statement[]): Promise<ExecResult[]> {
    const [only] = statements
    if (statements.length === 1 && only !== undefined) return [await this.query(only.text, only.params)]
    if (typeof (this.pool as MySqlPoolLike).getConnection === 'function') return this.onPooledConnection(statements)
    const run = this.tail.then(() => inTransaction(this.pool, statements))
    this.tail = run.catch(() => undefined)
    return run
  }

  /** The pool belongs to the caller: it stays open. */
  async close(): Promise<void> {}

  private async onPooledConnection(statements: readonly Statement[]): Promise<ExecResult[]> {
    const connection = await (this.pool as MySqlPoolLike).getConnection()
    try {
      const results = await inTransaction(connection, statements)
      connection.release()
      return results
    } catch (error) {
      // The connection may be broken or mid-transaction: drop it rather than return it to the pool.
      if (connection.destroy === undefined) connection.release()
      else connection.destroy()
      throw error
    }
  }
}

async function inTransaction(connection: MySqlQueryable, statements: readonly Statement[]): Promise<ExecResult[]> {
  await connection.query('START TRANSACTION')
  try {
    const results: ExecResult[] = []
    for (const statement of statements) {
      const [result] = await connection.query(statement.text, statement.params)
      results.push(toResult(result))
    }
    await connection.query('COMMIT')
    return results
  } catch (error) {
    await connection.query('ROLLBACK').catch(() => undefined)
    throw error
  }
}

/** mysql2 answers a write with a ResultSetHeader and a read with an array of rows. */
function toResult(result: unknown): ExecResult {
  if (Array.isArray(result)) return { rowCount: result.length, rows: result as SqlRow[] }
  const header = result as { affectedRows?: number; info?: string }
  return { rowCount: header.affectedRows ?? 0, rows: [], info: header.info ?? '' }
}
