/**
 * The parent's side of a crash check: the book of what the child acknowledged, and the check of a
 * crashed directory. The check works on a COPY of the log dir and database (so a chain of children
 * can go on crashing the original): it opens a fresh cache on the copy, flushes, closes, and
 * reads the SQLite table directly.
 *
 * A key passes when its row is the last acknowledged write or a later one the child may have made
 * without reporting it: a value's seq is ≥ the last acked seq; an absent or deleted key had a
 * delete as its last ack, or a delete announced with a higher seq. Versions must not go backwards:
 * a write after recovery gets a higher version than every row in the table.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import Database from 'better-sqlite3'
import { WriteBehindCache } from '../../src/index.js'
import { SqliteStore } from '../../src/stores/sql/sqlite/index.js'
import { keyIndex, keyName, TABLE, valueFor, type Ack, type CrashDurability, type CrashValue, type Intent } from './crash-protocol.js'

const PROBE_KEY = 'probe'
const MAX_REPORTED = 10

/** Everything the child reported, across the runs of a chain. */
export class AckBook {
  private readonly last = new Map<number, { seq: number; deleted: boolean }>()
  private readonly announced = new Map<number, number>()
  total = 0

  ack([index, seq, deleted]: Ack): void {
    this.total++
    const last = this.last.get(index)
    if (last === undefined || seq > last.seq) this.last.set(index, { seq, deleted: deleted === 1 })
  }

  intent([index, seq]: Intent): void {
    this.announced.set(index, Math.max(seq, this.announced.get(index) ?? 0))
  }

  lastAck(index: number): { seq: number; deleted: boolean } | undefined {
    return this.last.get(index)
  }

  /** A copy frozen at this moment (what was acknowledged when a power cut came). */
  clone(): AckBook {
    const copy = new AckBook()
    for (const [index, last] of this.last) copy.last.set(index, { ...last })
    for (const [index, seq] of this.announced) copy.announced.set(index, seq)
    copy.total = this.total
    return copy
  }

  /** The highest seq of a delete the child announced for this key (0 if none). */
  lastIntent(index: number): number {
    return this.announced.get(index) ?? 0
  }
}

export interface Row {
  readonly value: string | null
  readonly version: number
  readonly deleted: boolean
}

export interface CheckResult {
  readonly failures: string[]
  /** Keys the fresh cache re-dirtied from the log. */
  readonly recoveredKeys: number
  readonly recoveredRecords: number
  /** Live rows in the table after the recovery flush. */
  readonly liveRows: number
}

/** Copies a crashed dir and database (not the -shm index, which SQLite rebuilds) into `to`. */
export function copyCrashed(dir: string, db: string, to: string): { dir: string; db: string } {
  mkdirSync(to, { recursive: true })
  const copy = { dir: join(to, 'log'), db: join(to, 'store.db') }
  cpSync(dir, copy.dir, { recursive: true })
  for (const suffix of ['', '-wal']) {
    if (existsSync(db + suffix)) copyFileSync(db + suffix, copy.db + suffix)
  }
  return copy
}

/** Recovers `dir` into `db` with a fresh cache and checks every key against `book`. */
export async function checkRecovery(dir: string, db: string, durability: CrashDurability, keys: number, book: AckBook): Promise<CheckResult> {
  const cache = await WriteBehindCache.open({ store: new SqliteStore({ path: db }), dir, durability, warn: () => {} })
  let recovery = { keys: 0, records: 0 }
  cache.on('recovered', (report) => (recovery = report))
  const failures: string[] = []
  try {
    await cache.flush()
    await new Promise((resolve) => setImmediate(resolve)) // the 'recovered' event comes in a setImmediate
    const rows = readRows(db)
    failures.push(...checkRows(rows, keys, book))
    const highest = Math.max(0, ...[...rows.values()].map((row) => row.version))
    await cache.set(PROBE_KEY, { after: 'recovery' })
    await cache.flush()
    const probe = readRows(db).get(PROBE_KEY)
    if (probe === undefined) failures.push('a write made after recovery is not in the table after flush()')
    else if (probe.version <= highest) failures.push(`versions went backwards: a write after recovery got version ${probe.version} ≤ ${highest} already in the table`)
    return { failures: failures.slice(0, MAX_REPORTED), recoveredKeys: recovery.keys, recoveredRecords: recovery.records, liveRows: countLive(rows) }
  } finally {
    await cache.close()
  }
}

/** Every row of the table, by key; empty when the table does not exist yet. */
export function readRows(db: string): Map<string, Row> {
  if (!existsSync(db)) return new Map()
  const sqlite = new Database(db, { readonly: true, fileMustExist: true })
  try {
    const exists = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(TABLE)
    if (exists === undefined) return new Map()
    const rows = sqlite.prepare(`SELECT key, value, version, deleted FROM ${TABLE}`).all() as Array<{ key: string; value: string | null; version: number; deleted: number }>
    return new Map(rows.map((r) => [r.key, { value: r.value, version: r.version, deleted: r.deleted !== 0 }]))
  } finally {
    sqlite.close()
  }
}

/** The failures, one line each, of the rows against what the child acknowledged. */
export function checkRows(rows: ReadonlyMap<string, Row>, keys: number, book: AckBook): string[] {
  const failures: string[] = []
  for (const name of rows.keys()) {
    const index = keyIndex(name)
    if (name !== PROBE_KEY && (index === undefined || index >= keys)) failures.push(`unexpected key ${name} in the table`)
  }
  for (let index = 0; index < keys; index++) {
    const failure = checkKey(index, rows.get(keyName(index)), book)
    if (failure !== undefined) failures.push(failure)
  }
  return failures
}

function checkKey(index: number, row: Row | undefined, book: AckBook): string | undefined {
  const name = keyName(index)
  const acked = book.lastAck(index)
  if (row === undefined || row.deleted) {
    if (acked === undefined || acked.deleted || book.lastIntent(index) > acked.seq) return undefined
    return `LOST: ${name} is ${row === undefined ? 'absent' : `deleted (version ${row.version})`}, but set seq ${acked.seq} was acknowledged and no later delete was announced`
  }
  const value = JSON.parse(row.value ?? 'null') as CrashValue | null
  if (value === null || !isDeepStrictEqual(value, valueFor(index, value.s))) return `CORRUPT: ${name} holds ${row.value}`
  if (acked === undefined || value.s > acked.seq) return undefined
  if (value.s === acked.seq && !acked.deleted) return undefined
  return `STALE: ${name} holds seq ${value.s} (version ${row.version}), but ${acked.deleted ? 'delete' : 'set'} seq ${acked.seq} was acknowledged`
}

function countLive(rows: ReadonlyMap<string, Row>): number {
  let live = 0
  for (const [key, row] of rows) if (!row.deleted && key !== PROBE_KEY) live++
  return live
}
