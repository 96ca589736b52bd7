/**
 * Runs statements on the user's own `pg` Pool or Client, through the small structural subset of
 * `pg` declared here (so `pg` stays an optional peer dependency). A batch that fits one statement
 * is one round trip (a single statement is atomic); a larger one takes a pooled client for
 * BEGIN ... COMMIT. With a lone Client, transactions are serialized so they never interleave.
 */
import type { ExecResult, SqlExecutor, Statement } from '../sql-dialect.js'
import type { SqlRow } from '../table-mapping.js'

/** The part of a `pg` query result the store reads. */
export interface PgResultLike {
  rows: unknown[]
  rowCount: number | null
}

/** A `pg` Client, or anything that runs a parameterized query the same way. */
export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<PgResultLike>
}

/** A client checked out of a `pg` Pool. */
export interface PgPoolClientLike extends PgQueryable {
  release(destroy?: Error | boolean): void
  on?(event: 'error', listener: (error: Error) => void): unknown
  removeListener?(event: 'error', listener: (error: Error) => void): unknown
}

/** A `pg` Pool: queries, and `connect()` to check out a client for a transaction. */
export interface PgPoolLike extends PgQueryable {
  connect(): Promise<PgPoolClientLike>
}

export class PostgresExecutor implements SqlExecutor {
  private readonly isPool: boolean
  /** With a lone Client: the tail of the chain of transactions, so they run one at a time. */
  private tail: Promise<unknown> = Promise.resolve()

  constructor(private readonly pool: PgPoolLike | PgQueryable) {
    // A pg.Pool counts its clients; a pg.Client has a connect() too, but it connects itself.
    this.isPool = typeof (pool as { connect?: unknown }).connect === 'function' && typeof (pool as { totalCount?: unknown }).totalCount === 'number'
  }

  async query(text: string, params: readonly unknown[]): Promise<ExecResult> {
    return toResult(await this.pool.query(text, params as unknown[]))
  }

  async transaction(statements: readonly Statement[]): Promise<ExecResult[]> {
    const [only] = statements
    if (statements.length === 1 && only !== undefined) return [await this.query(only.text, only.params)]
    if (this.isPool) return this.onPooledClient(statements)
    const run = this.tail.then(() => inTransaction(this.pool, statements))
    this.tail = run.catch(() => undefined)
    return run
  }

  /** The pool belongs to the caller: it stays open. */
  async close(): Promise<void> {}

  private async onPooledClient(statements: readonly Statement[]): Promise<ExecResult[]> {
    const client = await (this.pool as PgPoolLike).connect()
    // A checked-out pg client emits socket errors (ECONNRESET) besides failing the query; unheard,
    // they would crash the process. The failed query already reports the loss.
    const ignore = (): void => undefined
    client.on?.('error', ignore)
    try {
      const results = await inTransaction(client, statements)
      client.removeListener?.('error', ignore)
      client.release()
      return results
    } catch (error) {
      // The connection may be broken or mid-transaction: drop it rather than return it to the pool.
      client.release(error instanceof Error ? error : true)
      throw error
    }
  }
}

async function inTransaction(client: PgQueryable, statements: readonly Statement[]): Promise<ExecResult[]> {
  await client.query('BEGIN')
  try {
    const results: ExecResult[] = []
    for (const statement of statements) results.push(toResult(await client.query(statement.text, statement.params as unknown[])))
    await client.query('COMMIT')
    return results
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw error
  }
}

function toResult(result: PgResultLike): ExecResult {
  return { rowCount: result.rowCount ?? 0, rows: result.rows as SqlRow[] }
}
