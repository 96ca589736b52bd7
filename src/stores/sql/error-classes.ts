/**
 * How the three SQL stores classify a driver error, in ONE table so they can be compared and agree.
 *
 * The rule: a failure that hits the whole store alike (the server is down or unreachable, the
 * password is wrong, the database or table does not exist, a column is missing, the role lacks a
 * privilege, the database is read-only, the driver package is missing, contention or resources)
 * is scope `store`: retryable, so the circuit opens and the writes are kept until it is fixed. A
 * failure caused by the data of the batch (a constraint violation, a bad value, a value too long)
 * is scope `op`: retrying the same data cannot help, so the op is isolated and dead-lettered.
 *
 * | cause      | PostgreSQL (SQLSTATE)              | MySQL / MariaDB (errno)                    | SQLite (result code)                     |
 * |------------|------------------------------------|--------------------------------------------|------------------------------------------|
 * | connection | class 08, 57P01-57P03, ECONN*      | 2002 2003 2006 2013 2055 1158-1161, ECONN* | —                                        |
 * | auth       | class 28 (28000, 28P01)            | 1045 1698 1820 1862 1130 1251              | SQLITE_AUTH                              |
 * | database   | 3D000                              | 1049                                       | SQLITE_CANTOPEN, SQLITE_NOTADB, _CORRUPT |
 * | table      | 42P01, 3F000 (schema)              | 1146                                       | "no such table"                          |
 * | column     | 42703                              | 1054                                       | "no such column", "has no column named"  |
 * | privilege  | 42501                              | 1044 1142 1143 1227 1370                   | SQLITE_PERM                              |
 * | read-only  | 25006                              | 1290 1836 1792                             | SQLITE_READONLY                          |
 * | resources  | classes 53, 58, XX                 | 1040 1203 1226 1053 1077-1080 1021         | SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM  |
 * | contention | class 40, 55P03, 55006, 57014      | 1205 1213 1317 1927 3024 4031              | SQLITE_BUSY, _LOCKED, _INTERRUPT, _PROTOCOL |
 * | driver     | MODULE_NOT_FOUND (the pg package)  | MODULE_NOT_FOUND (mysql2)                  | MODULE_NOT_FOUND (better-sqlite3)        |
 * | data (op)  | classes 21 22 23 42 44 54 0A       | 1062 1406 1153 1366 1264 1048 1452 1451 3140 4025 3819, sqlState 21/22/23/42 | SQLITE_CONSTRAINT*, _MISMATCH, _TOOBIG, _RANGE, bind errors |
 *
 * Anything else: an error without a database code (a dropped socket, a timeout) is `store`; an
 * unlisted PostgreSQL SQLSTATE or SQLite code is `op`; an unlisted MySQL errno is `store` unless
 * its sqlState is in a data class.
 */

/** What a failure is about; picks the advice in the error message. */
export type FailureCause = 'connection' | 'auth' | 'database' | 'table' | 'column' | 'privilege' | 'read-only' | 'resources' | 'contention' | 'driver' | 'data' | 'unknown'

export interface Classified {
  /** `store`: hits the whole store alike (retryable). `op`: about this data (not retryable). */
  readonly scope: 'store' | 'op'
  readonly cause: FailureCause
}

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND'])
const DRIVER_CODES = new Set(['MODULE_NOT_FOUND', 'ERR_MODULE_NOT_FOUND'])

const store = (cause: FailureCause): Classified => ({ scope: 'store', cause })
const op: Classified = { scope: 'op', cause: 'data' }

/** Causes shared by every driver: a missing package, a socket error. */
function common(code: unknown): Classified | undefined {
  if (typeof code !== 'string') return undefined
  if (DRIVER_CODES.has(code)) return store('driver')
  if (NETWORK_CODES.has(code)) return store('connection')
  return undefined
}

const PG_CODES: Readonly<Record<string, FailureCause>> = {
  '3D000': 'database',
  '42P01': 'table',
  '3F000': 'table',
  '42703': 'column',
  '42501': 'privilege',
  '25006': 'read-only',
  '57P01': 'connection',
  '57P02': 'connection',
  '57P03': 'connection',
  '57014': 'contention',
  '55P03': 'contention',
  '55006': 'contention',
}
const PG_CLASSES: Readonly<Record<string, FailureCause>> = {
  '08': 'connection',
  '28': 'auth',
  '40': 'contention',
  '53': 'resources',
  '57': 'resources',
  '58': 'resources',
  XX: 'resources',
}

/** PostgreSQL, by SQLSTATE (`error.code`). */
export function classifyPostgres(error: unknown): Classified {
  const code = (error as { code?: unknown } | null)?.code
  const shared = common(code)
  if (shared !== undefined) return shared
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    const cause = PG_CODES[code] ?? PG_CLASSES[code.slice(0, 2)]
    return cause === undefined ? op : store(cause)
  }
  return store('unknown')
}

const MYSQL_ERRNOS: ReadonlyMap<number, FailureCause> = new Map<number, FailureCause>([
  ...[2002, 2003, 2006, 2013, 2055, 1158, 1159, 1160, 1161].map((n) => [n, 'connection'] as const),
  ...[1045, 1698, 1820, 1862, 1130, 1251].map((n) => [n, 'auth'] as const),
  [1049, 'database'],
  [1146, 'table'],
  [1054, 'column'],
  ...[1044, 1142, 1143, 1227, 1370].map((n) => [n, 'privilege'] as const),
  ...[1290, 1836, 1792].map((n) => [n, 'read-only'] as const),
  ...[1040, 1203, 1226, 1053, 1077, 1078, 1079, 1080, 1021].map((n) => [n, 'resources'] as const),
  ...[1205, 1213, 1317, 1927, 3024, 4031].map((n) => [n, 'contention'] as const),
])
/** Data errors whose sqlState is not in a data class (packet too large is 08S01). */
const MYSQL_DATA_ERRNOS = new Set([1062, 1406, 1153, 1366, 1264, 1048, 1452, 1451, 3140, 4025, 3819])
const MYSQL_DATA_CLASSES = new Set(['21', '22', '23', '42'])
const MYSQL_CODES: Readonly<Record<string, FailureCause>> = { PROTOCOL_CONNECTION_LOST: 'connection', PROTOCOL_SEQUENCE_TIMEOUT: 'connection' }

/** MySQL and MariaDB, by errno (then mysql2's `code`, then the sqlState class). */
export function classifyMySql(error: unknown): Classified {
  const { errno, code, sqlState } = (error ?? {}) as { errno?: unknown; code?: unknown; sqlState?: unknown }
  if (typeof errno === 'number') {
    const cause = MYSQL_ERRNOS.get(errno)
    if (cause !== undefined) return store(cause)
    if (MYSQL_DATA_ERRNOS.has(errno)) return op
  }
  const shared = common(code)
  if (shared !== undefined) return shared
  if (typeof code === 'string' && MYSQL_CODES[code] !== undefined) return store(MYSQL_CODES[code])
  if (typeof sqlState === 'string' && MYSQL_DATA_CLASSES.has(sqlState.slice(0, 2))) return op
  return store('unknown')
}

const SQLITE_CODES: Readonly<Record<string, FailureCause>> = {
  SQLITE_AUTH: 'auth',
  SQLITE_CANTOPEN: 'database',
  SQLITE_NOTADB: 'database',
  SQLITE_CORRUPT: 'database',
  SQLITE_PERM: 'privilege',
  SQLITE_READONLY: 'read-only',
  SQLITE_FULL: 'resources',
  SQLITE_IOERR: 'resources',
  SQLITE_NOMEM: 'resources',
  SQLITE_BUSY: 'contention',
  SQLITE_LOCKED: 'contention',
  SQLITE_INTERRUPT: 'contention',
  SQLITE_PROTOCOL: 'contention',
}

/** SQLite, by primary result code (`SQLITE_IOERR_WRITE` is `SQLITE_IOERR`); SQLITE_ERROR by message. */
export function classifySqlite(error: unknown): Classified {
  const code = (error as { code?: unknown } | null)?.code
  const shared = common(code)
  if (shared !== undefined) return shared
  if (typeof code === 'string' && code.startsWith('SQLITE_')) {
    const primary = /^SQLITE_[A-Z]+/.exec(code)?.[0] ?? code
    const cause = SQLITE_CODES[primary]
    if (cause !== undefined) return store(cause)
    if (primary === 'SQLITE_ERROR') {
      const message = error instanceof Error ? error.message : ''
      if (/^no such table\b/i.test(message)) return store('table')
      if (/^no such column\b|has no column named\b/i.test(message)) return store('column')
    }
    return op
  }
  return error instanceof TypeError || error instanceof RangeError ? op : store('unknown')
}

/** What to do about a failure of this cause: the second half of every store error's message. */
export function advice(cause: FailureCause): string {
  return ADVICE[cause]
}

const KEPT = 'Writes are kept and retried until it is fixed.'
const ADVICE: Readonly<Record<FailureCause, string>> = {
  connection: `The server is unreachable: check that it is running and that the host and port are right. ${KEPT}`,
  auth: `Authentication failed: check the user name and password in the connection settings. ${KEPT}`,
  database: `The database does not exist or cannot be opened: create it, or fix the database name or path in the connection settings. ${KEPT}`,
  table: `The table does not exist: run your migration (or let the store create the built-in table: createTable). ${KEPT}`,
  column: `The table lacks a column the store writes: migrate the table, or fix the table mapping. ${KEPT}`,
  privilege: `This role lacks a privilege on the table: grant it SELECT, INSERT and UPDATE (and DELETE for a table without a deleted column). ${KEPT}`,
  'read-only': `The database is read-only (a replica, a read-only mode or file): point the store at a writable database. ${KEPT}`,
  resources: `The server is out of a resource (connections, memory, disk) or shutting down. ${KEPT}`,
  contention: 'This looks transient (a lock, a deadlock, a timeout); the batch will be retried.',
  driver: `The database driver package is not installed: install it (npm install pg, mysql2 or better-sqlite3). ${KEPT}`,
  data: 'Retrying cannot help: check the data, the table definition and the mapping.',
  unknown: 'This looks transient (connection, timeout); the batch will be retried.',
}
