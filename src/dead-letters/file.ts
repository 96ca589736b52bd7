/**
 * The on-disk format of the dead-letter queue: `dead-letters.log`, an append-only file of JSON
 * lines, one record per line, each starting with a CRC-32 of the rest of the line:
 *
 *   {"crc":"1a2b3c4d","op":"add","key":"k","version":7,...}\n
 *   {"crc":"5e6f7a8b","op":"remove","key":"k","version":7}\n
 *
 * The CRC covers the bytes after the `"crc":"........",` prefix, so a line is checked without
 * re-serialising it and stays plain JSON for `jq`. A bad or unterminated LAST line is a torn
 * append (its `add` never resolved) and is ignored; a bad line followed by good ones, or a bad
 * tail holding more than one record start, is corruption and throws `LogCorruptionError`,
 * because dropping it could drop an acknowledged dead letter.
 * A `merge` letter (`"kind":"merge","merge":"sum","operand":5`) is unknown to releases before
 * increments, which refuse the file as corrupt: drain or drop merge letters before going back.
 * This module knows bytes and records; the queue's rules live in `dead-letters.ts`.
 */
import { constants } from 'node:fs'
import { open, readFile, rename, rm, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { LogCorruptionError } from '../errors.js'
import type { DeadLetter } from '../contracts/dead-letters.js'
import { fsyncDir } from '../log/checkpoint.js'
import { REMEDY } from '../log/remedies.js'
import { O_NOFOLLOW, openNewFile } from '../log/safe-files.js'
import { toError } from '../to-error.js'

export const DEAD_LETTER_FILE = 'dead-letters.log'
export const FILE_MODE = 0o600

export type DeadLetterRecord = ({ op: 'add' } & DeadLetter) | { op: 'remove'; key: string; version: number }

/** What a read of the file found. */
export interface ParsedLog {
  records: DeadLetterRecord[]
  /** Bytes of whole, valid lines: where the next append belongs. */
  validBytes: number
  /** Bytes of a torn last line that was ignored (0 when the file ends cleanly). */
  tornBytes: number
}

const PREFIX = '{"crc":"'
const BODY_START = PREFIX.length + 8 + 2 // prefix, 8 hex digits, `",`
const NEWLINE = 0x0a

/** One record as a line of the file, newline included. */
export function encodeRecord(record: DeadLetterRecord): string {
  const body = JSON.stringify(record).slice(1) // drop the `{`: the crc field takes its place
  const crc = crc32(Buffer.from(body, 'utf8')).toString(16).padStart(8, '0')
  return `${PREFIX}${crc}",${body}\n`
}

/** Parses the file's bytes; throws `LogCorruptionError` for a bad line that is not the last. */
export function parseLog(bytes: Buffer, file: string): ParsedLog {
  const records: DeadLetterRecord[] = []
  let offset = 0
  while (offset < bytes.length) {
    const end = bytes.indexOf(NEWLINE, offset)
    const isLast = end === -1 || end === bytes.length - 1
    const line = bytes.subarray(offset, end === -1 ? bytes.length : end)
    const result = end === -1 ? 'the line is not terminated' : decodeLine(line)
    if (typeof result === 'string') {
      if (isLast && isTornAppend(bytes.subarray(offset))) return { records, validBytes: offset, tornBytes: bytes.length - offset }
      throw new LogCorruptionError(file, offset, `dead-letter record ${result}`, REMEDY.deadLetterCorrupt)
    }
    records.push(result)
    offset = end + 1
  }
  return { records, validBytes: offset, tornBytes: 0 }
}

/**
 * Whether a bad tail can be what a crash leaves of an append: the start of at most one record. A
 * torn append keeps its whole lines intact, so a second record start in the tail means damage
 * (a newline flipped into something else) to lines that were acknowledged.
 */
function isTornAppend(tail: Buffer): boolean {
  return tail.indexOf(PREFIX, 1, 'latin1') === -1
}

/** A decoded record, or the reason the line is bad. */
function decodeLine(line: Buffer): DeadLetterRecord | string {
  if (line.length <= BODY_START || line.toString('latin1', 0, PREFIX.length) !== PREFIX) return 'has no crc prefix'
  const hex = line.toString('latin1', PREFIX.length, PREFIX.length + 8)
  // Exactly as written (lowercase): parseInt alone would also accept 'A' for 'a', or a short prefix.
  if (!/^[0-9a-f]{8}$/.test(hex) || crc32(line.subarray(BODY_START)) !== Number.parseInt(hex, 16)) return 'fails its checksum'
  let parsed: unknown
  try {
    parsed = JSON.parse(line.toString('utf8'))
  } catch {
    return 'is not valid JSON'
  }
  return isRecord(parsed) ? stripCrc(parsed) : 'has an unknown shape'
}

function stripCrc(record: DeadLetterRecord & { crc?: unknown }): DeadLetterRecord {
  const { crc: _crc, ...rest } = record
  return rest
}

function isRecord(value: unknown): value is DeadLetterRecord {
  if (typeof value !== 'object' || value === null) return false
  const r = value as Record<string, unknown>
  if (typeof r.key !== 'string' || typeof r.version !== 'number') return false
  if (r.op === 'remove') return true
  return r.op === 'add' && (r.kind === 'set' || r.kind === 'delete' || r.kind === 'merge') && typeof r.error === 'object' && r.error !== null
}

/** Reads and parses the file in `dir`; a missing file reads as empty. Never writes. */
export async function readLog(dir: string): Promise<ParsedLog> {
  const file = join(dir, DEAD_LETTER_FILE)
  try {
    return parseLog(await readFile(file), file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], validBytes: 0, tornBytes: 0 }
    throw error
  }
}

/**
 * Replaces the file with exactly `lines`, atomically: write a temp file, fsync it, rename it over
 * the old one, fsync the directory so the rename itself survives a power loss.
 */
export async function rewriteLog(dir: string, lines: readonly string[]): Promise<void> {
  const file = join(dir, DEAD_LETTER_FILE)
  const tmp = tmpPath(dir)
  const handle = await openNewFile(tmp, FILE_MODE) // O_EXCL | O_NOFOLLOW: a planted symlink is not followed
  try {
    await handle.writeFile(lines.join(''), 'utf8')
    await handle.sync()
  } catch (error) {
    await handle.close()
    await rm(tmp, { force: true })
    throw error
  }
  await handle.close()
  await rename(tmp, file)
  await fsyncDir(dir)
}

/** Removes what a crash in the middle of `rewriteLog` may have left (the live file is untouched). */
export async function removeStaleTemp(dir: string): Promise<void> {
  await rm(tmpPath(dir), { force: true })
}

function tmpPath(dir: string): string {
  return join(dir, `${DEAD_LETTER_FILE}.tmp`)
}

/**
 * Appends whole lines with fsync. A failed append is cut back to the last good length, so a
 * later append never lands after half a line (which would read as corruption, not a torn tail).
 */
export class LogAppender {
  /** Set when a failed append could not be cut back: the file may end in half a line. */
  private broken: Error | undefined

  private constructor(
    private readonly handle: FileHandle,
    private size: number,
  ) {}

  /** Opens the file for appending (creating it with mode 0600); `size` is its current valid length. */
  static async open(dir: string, size: number): Promise<LogAppender> {
    const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | O_NOFOLLOW
    const handle = await open(join(dir, DEAD_LETTER_FILE), flags, FILE_MODE)
    return new LogAppender(handle, size)
  }

  /** Appends `text` and fsyncs; resolves once it is durable. Calls must not overlap. */
  async append(text: string): Promise<void> {
    if (this.broken !== undefined) throw this.broken
    const bytes = Buffer.from(text, 'utf8')
    try {
      await this.handle.appendFile(bytes) // loops until every byte is written
      await this.handle.datasync()
      this.size += bytes.length
    } catch (error) {
      await this.handle.truncate(this.size).catch(() => {
        this.broken = toError(error)
      })
      throw error
    }
  }

  async close(): Promise<void> {
    await this.handle.close()
  }
}
