/**
 * The correctness check: after the drain, the table must hold, for every key, exactly the last
 * acknowledged value (compared by its unique `seq`), and no key that was never written. For a
 * counter system, each key must hold exactly the number of its acknowledged increments.
 */
import type pg from 'pg'
import type { BenchValue, TableInfo } from '../systems/types.js'

export interface VerifyResult {
  readonly ok: boolean
  /** Keys compared. */
  readonly keys: number
  readonly mismatches: number
  /** Rows present in the table for keys the driver never wrote. */
  readonly unexpected: number
  /** A few mismatches, for the log. */
  readonly examples: string[]
}

const PAGE = 50_000

/** Reads the table's live rows as key → seq (or the number itself, `asNumber`), paging by key. */
export async function readFinalState(pool: pg.Pool, info: TableInfo, asNumber = false): Promise<Map<string, number>> {
  const state = new Map<string, number>()
  const live = info.deletedColumn === undefined ? 'TRUE' : `NOT ${info.deletedColumn}`
  let after = ''
  for (;;) {
    const { rows } = await pool.query<{ k: string; v: string | null }>(
      `SELECT ${info.keyColumn} AS k, ${info.valueColumn}::text AS v FROM ${info.table}
        WHERE ${info.keyColumn} > $1 AND ${live} ORDER BY ${info.keyColumn} LIMIT ${PAGE}`,
      [after],
    )
    for (const row of rows) state.set(row.k, row.v === null ? -1 : asNumber ? numberOf(row.v) : seqOf(row.v))
    const last = rows.at(-1)
    if (last === undefined || rows.length < PAGE) return state
    after = last.k
  }
}

// A value column may hold the JSON itself (jsonb) or JSON text inside a JSON string.
function seqOf(text: string): number {
  let value: unknown = JSON.parse(text)
  if (typeof value === 'string') value = JSON.parse(value)
  const seq = (value as Partial<BenchValue> | null)?.seq
  return typeof seq === 'number' ? seq : -1
}

function numberOf(text: string): number {
  let value: unknown = JSON.parse(text)
  if (typeof value === 'string') value = JSON.parse(value)
  return typeof value === 'number' ? value : -1
}

/** Compares a counter system's table with its acknowledged increments per key; keys with failed writes are skipped. */
export async function verifyCounts(pool: pg.Pool, info: TableInfo, expected: ReadonlyMap<string, number>, skip: ReadonlySet<string>): Promise<VerifyResult> {
  const actual = await readFinalState(pool, info, true)
  const examples: string[] = []
  let mismatches = 0
  for (const [key, count] of expected) {
    if (skip.has(key) || actual.get(key) === count) continue
    mismatches += 1
    if (examples.length < 5) examples.push(`${key}: expected ${count} increments, found ${actual.get(key) ?? 'no row'}`)
  }
  let unexpected = 0
  for (const key of actual.keys()) if (!expected.has(key) && !skip.has(key)) unexpected += 1
  return { ok: mismatches === 0 && unexpected === 0, keys: expected.size, mismatches, unexpected, examples }
}

/** Compares the table with the last acknowledged values; keys with failed writes are skipped. */
export async function verifyFinalState(pool: pg.Pool, info: TableInfo, expected: ReadonlyMap<string, BenchValue>, skip: ReadonlySet<string>): Promise<VerifyResult> {
  const actual = await readFinalState(pool, info)
  const examples: string[] = []
  let mismatches = 0
  for (const [key, value] of expected) {
    if (skip.has(key)) continue
    const got = actual.get(key)
    if (got === value.seq) continue
    mismatches += 1
    if (examples.length < 5) examples.push(`${key}: expected seq ${value.seq}, found ${got ?? 'no row'}`)
  }
  let unexpected = 0
  for (const key of actual.keys()) if (!expected.has(key) && !skip.has(key)) unexpected += 1
  return { ok: mismatches === 0 && unexpected === 0, keys: expected.size, mismatches, unexpected, examples }
}
