/**
 * The demo's end check: opens the SQLite file on its own connection (read-only, after the cache
 * has closed), reads every row of the store's table and compares it with the last value the demo
 * wrote for each player. Every player written must be there with its last score and timestamp,
 * live (not a tombstone), and there must be no other row.
 */
import type { Leaderboard, PlayerValue } from './demo-workload.js'

export interface CheckResult {
  readonly ok: boolean
  /** Distinct players the demo wrote. */
  readonly players: number
  /** Rows in the table. */
  readonly rows: number
  /** Rows that matched the expected last value. */
  readonly matched: number
  readonly mismatchCount: number
  /** The first few mismatches, described. */
  readonly mismatches: string[]
}

const SHOWN = 10
const KEY = /^player:(\d+)$/

interface Row {
  key: string
  value: string | null
  deleted: number
}

/** Compares `table` in the SQLite file at `path` with what `board` says was written last. */
export async function checkDatabase(path: string, table: string, board: Leaderboard): Promise<CheckResult> {
  const { default: Database } = await import('better-sqlite3')
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    // No write ever reached the store (a zero-length run): the table was never created.
    const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined
    const rows = exists ? (db.prepare(`SELECT "key", "value", "deleted" FROM "${table.replaceAll('"', '""')}"`).all() as Row[]) : []
    return compare(rows, board)
  } finally {
    db.close()
  }
}

function compare(rows: readonly Row[], board: Leaderboard): CheckResult {
  const seen = new Uint8Array(board.players)
  const problems: string[] = []
  let matched = 0
  for (const row of rows) {
    const problem = checkRow(row, board, seen)
    if (problem === undefined) matched++
    else problems.push(problem)
  }
  for (let id = 0; id < board.players; id++) {
    if ((board.scores[id] as number) > 0 && seen[id] === 0) problems.push(`player:${id}: missing (expected score ${board.scores[id]})`)
  }
  return {
    ok: problems.length === 0,
    players: board.distinctPlayers(),
    rows: rows.length,
    matched,
    mismatchCount: problems.length,
    mismatches: problems.slice(0, SHOWN),
  }
}

/** Describes what is wrong with one row, or undefined when it holds the expected last value. */
function checkRow(row: Row, board: Leaderboard, seen: Uint8Array): string | undefined {
  const id = Number(KEY.exec(row.key)?.[1] ?? NaN)
  const expected = Number.isInteger(id) && id < board.players ? (board.scores[id] as number) : 0
  if (expected === 0) return `${row.key}: unexpected row (never written by the demo)`
  seen[id] = 1
  if (row.deleted !== 0) return `${row.key}: deleted in the database (expected score ${expected})`
  const value = parse(row.value)
  if (value === undefined) return `${row.key}: unreadable value ${String(row.value).slice(0, 60)}`
  const updatedAt = board.updatedAt[id] as number
  if (value.score !== expected || value.updatedAt !== updatedAt) {
    return `${row.key}: database has score ${value.score} (updatedAt ${value.updatedAt}), expected ${expected} (updatedAt ${updatedAt})`
  }
  return undefined
}

function parse(text: string | null): PlayerValue | undefined {
  if (text === null) return undefined
  try {
    const value = JSON.parse(text) as Partial<PlayerValue> | null
    return typeof value?.score === 'number' && typeof value.updatedAt === 'number' ? (value as PlayerValue) : undefined
  } catch {
    return undefined
  }
}
