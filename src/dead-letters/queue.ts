/**
 * The persistent dead-letter queue: writes that could not be flushed (a permanent error, or
 * retries exhausted), kept with their error until someone inspects, replays or drops them.
 *
 * At most one dead letter per key: a newer version replaces an older one, an older one is
 * ignored (the store would fence it anyway), except that a merge letter (a delta) folds with the
 * key's other letter instead (see `fold`). `add` and `remove` are durable when they resolve
 * (append + fsync to `dead-letters.log` in `dir`, see `dead-letter-file.ts`); without a `dir` the
 * queue lives in memory only. A dead letter is never dropped silently: only `remove` drops one.
 *
 * One process at a time may open a dir's queue for writing; `readDeadLetters` only reads.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { CacheClosedError } from '../errors.js'
import { checkNumber, checkString, invalid } from '../validate/check.js'
import type { DeadLetter, DeadLetterSelector, ErrorDescription } from '../contracts/dead-letters.js'
import type { MergeKind } from '../contracts/store.js'
import { DEAD_LETTER_FILE, encodeRecord, LogAppender, readLog, removeStaleTemp, rewriteLog, type DeadLetterRecord } from './file.js'

const MERGE_KINDS: readonly MergeKind[] = ['sum', 'max', 'min']

/** Identifies a dead letter to remove. */
export interface DeadLetterRef {
  key: string
  version: number
}

export class DeadLetterQueue {
  private readonly letters: Map<string, DeadLetter>
  private tail: Promise<unknown> = Promise.resolve()
  private closing: Promise<void> | undefined

  private constructor(
    /** The directory holding `dead-letters.log`; `undefined` for an in-memory queue. */
    readonly dir: string | undefined,
    letters: Map<string, DeadLetter>,
    private readonly appender: LogAppender | undefined,
    /** Bytes of a torn last line (an append that never completed) ignored at open. */
    readonly tornBytes: number,
  ) {
    this.letters = letters
  }

  /**
   * Opens the queue in `dir` (created if missing), or an in-memory queue when `dir` is undefined.
   * Drops a torn last line (an add that never resolved; see `tornBytes`) and a temp file left by a
   * crash during compaction, and compacts the file when it holds more than twice as many records
   * as live letters. Throws `LogCorruptionError` for a bad line anywhere but at the end.
   */
  static async open(dir: string | undefined): Promise<DeadLetterQueue> {
    if (dir === undefined) return new DeadLetterQueue(undefined, new Map(), undefined, 0)
    checkString(dir, 'dir', { required: true })
    await mkdir(dir, { recursive: true, mode: 0o700 })
    await removeStaleTemp(dir)
    const parsed = await readLog(dir)
    const letters = replay(parsed.records)
    let size = parsed.validBytes
    const fresh = parsed.validBytes === 0 && parsed.tornBytes === 0
    if (fresh || parsed.tornBytes > 0 || parsed.records.length > 2 * letters.size) {
      const lines = [...letters.values()].map((letter) => encodeRecord({ op: 'add', ...letter }))
      await rewriteLog(dir, lines)
      size = lines.reduce((sum, line) => sum + Buffer.byteLength(line), 0)
    }
    return new DeadLetterQueue(dir, letters, await LogAppender.open(dir, size), parsed.tornBytes)
  }

  /** The file backing the queue, or `undefined` in memory. */
  get file(): string | undefined {
    return this.dir === undefined ? undefined : join(this.dir, DEAD_LETTER_FILE)
  }

  /** How many dead letters (keys) the queue holds. */
  get size(): number {
    return this.letters.size
  }

  /**
   * Adds dead letters, in order; durable once it resolves. A letter replaces the key's current
   * one if its version is the same or newer, and is ignored if older. Throws a `TypeError` naming
   * the first bad field.
   */
  async add(letters: readonly DeadLetter[]): Promise<void> {
    if (!isArray(letters)) throw invalid('letters', 'an array of dead letters', letters)
    const records = letters.map((letter, i): DeadLetterRecord => ({ op: 'add', ...normalizeLetter(letter, i) }))
    await this.commit(() => records.filter((record) => this.changes(record)))
  }

  /** Removes the letters for these keys whose version is at most the given one; durable once it resolves. */
  async remove(refs: readonly DeadLetterRef[]): Promise<void> {
    if (!isArray(refs)) throw invalid('refs', 'an array of { key, version }', refs)
    const records = refs.map((ref, i): DeadLetterRecord => ({ op: 'remove', ...normalizeRef(ref, `refs[${i}]`) }))
    await this.commit(() => records.filter((record) => this.changes(record)))
  }

  /** The version of `key`'s dead letter, if it has one. */
  versionOf(key: string): number | undefined {
    return this.letters.get(key)?.version
  }

  /** The kind and version of `key`'s dead letter, if it has one. */
  kindOf(key: string): { readonly kind: DeadLetter['kind']; readonly version: number } | undefined {
    return this.letters.get(key)
  }

  /** The dead letters that match `selector` (all without one), in the order they were dead-lettered. */
  list(selector?: DeadLetterSelector): DeadLetter[] {
    const matches = deadLetterMatcher(selector)
    const result: DeadLetter[] = []
    for (const letter of this.letters.values()) if (matches(letter)) result.push(copyLetter(letter))
    return result
  }

  /** Waits for pending writes and releases the file. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= this.tail.then(async () => this.appender?.close())
    return this.closing
  }

  /**
   * Writes the records that change something (chosen once earlier commits have applied), then
   * applies them in memory: the file and memory always agree, and commits never interleave.
   */
  private commit(choose: () => DeadLetterRecord[]): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(new CacheClosedError('change the dead-letter queue'))
    const run = this.tail.then(async () => {
      const records = choose()
      if (records.length === 0) return
      await this.appender?.append(records.map(encodeRecord).join(''))
      for (const record of records) applyRecord(this.letters, record)
    })
    this.tail = run.catch(() => {})
    return run
  }

  private changes(record: DeadLetterRecord): boolean {
    const current = this.letters.get(record.key)
    if (record.op === 'remove') return current !== undefined && current.version <= record.version
    // An older letter changes nothing, but under a merge letter, which it folds into (see `fold`).
    return current === undefined || record.version >= current.version || current.kind === 'merge'
  }
}

/** Reads a dir's dead letters without changing anything (for the CLI; no lock needed). */
export async function readDeadLetters(dir: string): Promise<{ letters: DeadLetter[]; records: number; tornBytes: number }> {
  const parsed = await readLog(dir)
  const letters = [...replay(parsed.records).values()]
  return { letters, records: parsed.records.length, tornBytes: parsed.tornBytes }
}

/** A predicate for a selector; throws a `TypeError` for a malformed filter. */
export function deadLetterMatcher(selector: DeadLetterSelector | undefined): (letter: DeadLetter) => boolean {
  if (selector === undefined) return () => true
  if (typeof selector === 'function') return selector
  const { keys, prefix, maxVersion } = selector
  if (keys !== undefined && !(Array.isArray(keys) && keys.every((k) => typeof k === 'string'))) throw invalid('filter.keys', 'an array of strings', keys)
  if (prefix !== undefined && typeof prefix !== 'string') throw invalid('filter.prefix', 'a string', prefix)
  checkNumber(maxVersion, 'filter.maxVersion', {})
  const keySet = keys === undefined ? undefined : new Set(keys)
  return (letter) => (keySet === undefined || keySet.has(letter.key)) && (prefix === undefined || letter.key.startsWith(prefix)) && (maxVersion === undefined || letter.version <= maxVersion)
}

/** The live letters after applying `records` in order. */
function replay(records: readonly DeadLetterRecord[]): Map<string, DeadLetter> {
  const letters = new Map<string, DeadLetter>()
  for (const record of records) applyRecord(letters, record)
  return letters
}

/** The one place the queue's rules live, for both live changes and replay at open. */
function applyRecord(letters: Map<string, DeadLetter>, record: DeadLetterRecord): void {
  const current = letters.get(record.key)
  if (record.op === 'remove') {
    if (current !== undefined && current.version <= record.version) letters.delete(record.key)
    return
  }
  const { op: _op, ...added } = record
  if (current !== undefined && added.version < current.version && current.kind !== 'merge') return
  const folds = current !== undefined && current.version !== added.version && (current.kind === 'merge' || added.kind === 'merge')
  const letter = folds ? fold(current, added) : added
  if (current !== undefined && current.version === letter.version) letter.firstFailedAt = Math.min(current.firstFailedAt, letter.firstFailedAt)
  letters.delete(record.key) // a replaced letter moves to the end: it was dead-lettered again
  letters.set(record.key, letter)
}

/**
 * Two letters of one key, one of them a merge: a merge carries only its delta, so neither may
 * simply replace the other (global order can dead-letter two merges of a key, `skipHalted`).
 * Two merges of one kind fold into one (sum: the operands added; max, min: the larger, smaller);
 * any other pair becomes a set of the newer one's whole value (a merge letter's `encoded` is the
 * value with every earlier write of its key in it, none of which reached the store). A set or
 * delete newer than a merge replaces it, as it would in the store.
 */
function fold(a: DeadLetter, b: DeadLetter): DeadLetter {
  const [older, newer] = a.version < b.version ? [a, b] : [b, a]
  if (newer.kind !== 'merge') return newer
  const firstFailedAt = Math.min(a.firstFailedAt, b.firstFailedAt)
  if (older.kind === 'merge' && older.merge === newer.merge && older.operand !== undefined && newer.operand !== undefined) {
    const operand = newer.merge === 'sum' ? older.operand + newer.operand : newer.merge === 'max' ? Math.max(older.operand, newer.operand) : Math.min(older.operand, newer.operand)
    return { ...newer, operand, firstFailedAt }
  }
  const { merge: _merge, operand: _operand, ...rest } = newer
  return { ...rest, kind: 'set', firstFailedAt }
}

/** `Array.isArray` without its `any[]` narrowing. */
function isArray(value: unknown): value is readonly unknown[] {
  return Array.isArray(value)
}

function copyLetter(letter: DeadLetter): DeadLetter {
  return { ...letter, error: { ...letter.error } }
}

/** A clean copy of a caller's letter (no extra fields reach the disk), or an `InvalidOptionError` naming the bad field. */
function normalizeLetter(letter: DeadLetter, i: number): DeadLetter {
  const { key, version } = normalizeRef(letter, `letters[${i}]`)
  const bad = (field: keyof DeadLetter, expected: string): never => {
    throw invalid(`letters[${i}].${field}`, expected, letter[field])
  }
  if (letter.kind !== 'set' && letter.kind !== 'delete' && letter.kind !== 'merge') bad('kind', "'set', 'delete' or 'merge'")
  if (letter.kind === 'delete' ? letter.encoded !== null : typeof letter.encoded !== 'string') bad('encoded', 'a string for a set or a merge, null for a delete')
  if (letter.kind === 'merge' && !MERGE_KINDS.includes(letter.merge as MergeKind)) bad('merge', "'sum', 'max' or 'min' for a merge")
  if (letter.kind === 'merge' && !Number.isFinite(letter.operand)) bad('operand', 'a finite number for a merge')
  if (!Number.isInteger(letter.attempts) || letter.attempts < 0) bad('attempts', 'an integer >= 0')
  if (!Number.isFinite(letter.firstFailedAt)) bad('firstFailedAt', 'a finite number (epoch ms)')
  if (!Number.isFinite(letter.lastFailedAt)) bad('lastFailedAt', 'a finite number (epoch ms)')
  const { attempts, firstFailedAt, lastFailedAt, kind, encoded } = letter
  const merge = kind === 'merge' ? { merge: letter.merge, operand: letter.operand } : {}
  return { key, version, kind, encoded, ...merge, error: normalizeError(letter.error, i), attempts, firstFailedAt, lastFailedAt }
}

function normalizeError(error: ErrorDescription, i: number): ErrorDescription {
  const ok =
    typeof error === 'object' &&
    error !== null &&
    typeof error.name === 'string' &&
    typeof error.message === 'string' &&
    typeof error.retryable === 'boolean' &&
    (error.code === undefined || typeof error.code === 'string')
  if (!ok) throw invalid(`letters[${i}].error`, '{ name, code?, message, retryable } (see describeError)', error)
  const { name, code, message, retryable } = error
  return code === undefined ? { name, message, retryable } : { name, code, message, retryable }
}

function normalizeRef(ref: DeadLetterRef, label: string): DeadLetterRef {
  if (typeof ref !== 'object' || ref === null) throw invalid(label, 'an object with key and version', ref)
  checkString(ref.key, `${label}.key`, { required: true })
  checkNumber(ref.version, `${label}.version`, { min: 1, integer: true, required: true })
  return { key: ref.key, version: ref.version }
}
