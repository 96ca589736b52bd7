/**
 * Opens a better-sqlite3 database for the demo's SqliteStore and counts the SQL statements the
 * store runs on it, so the demo can report statements next to batches. The wrapper is the small
 * structural `SqliteDatabaseLike` the store calls, nothing more.
 */
import type { SqliteDatabaseLike, SqliteStatementLike } from '../stores/sql/sqlite/executor.js'

export interface StatementCounter {
  statements: number
}

/** Opens `path` (WAL mode, like SqliteStore does with a path) and counts statements into `counter`. */
export async function countingDatabase(path: string, counter: StatementCounter): Promise<SqliteDatabaseLike> {
  const { default: Database } = await import('better-sqlite3')
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('busy_timeout = 5000')
  return {
    prepare: (sql) => counting(db.prepare(sql), counter),
    exec: (sql) => db.exec(sql),
    pragma: (source) => db.pragma(source),
    close: () => db.close(),
  }
}

function counting(statement: SqliteStatementLike, counter: StatementCounter): SqliteStatementLike {
  return {
    reader: statement.reader,
    run: (...params) => {
      counter.statements++
      return statement.run(...params)
    },
    all: (...params) => {
      counter.statements++
      return statement.all(...params)
    },
  }
}
