/**
 * Shared helpers for the dirty-log tests: temp dirs, whether `chattr +i` works, varied records,
 * frame offsets in a segment, and copying a log directory with segments cut short (a simulated
 * crash or power loss).
 */
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { DirtyLog } from '../../src/log/dirty-log.js'
import { FRAME_HEADER_BYTES, SEGMENT_HEADER_BYTES } from '../../src/log/record.js'
import { listSegments } from '../../src/log/segment-reader.js'
import type { DirtyLogOptions, LogRecord, WriteRecord } from '../../src/log/types.js'

const made: string[] = []
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true })
})

/** A fresh temp dir, removed when the test file ends. */
export function tempDir(label = 'log'): string {
  const dir = mkdtempSync(join(tmpdir(), `wb-${label}-`))
  made.push(dir)
  return dir
}

/** Whether `chattr +i` works here (ext4 and root). */
export function chattrWorks(): boolean {
  const dir = tempDir('chattr-probe')
  try {
    execFileSync('chattr', ['+i', dir], { stdio: 'ignore' })
    execFileSync('chattr', ['-i', dir], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

const KEYS = ['a', 'κλειδί', '键', '🔑-emoji', 'user:42', 'x'.repeat(300)]
const VALUES = ['""', '', '{"score":9001}', '"héllo wörld ✓"', '[1,2,3]', 'null', '"🚀"', 'x'.repeat(500)]

/** `count` records with versions from `first`, mixing sets and deletes, unicode and empty values. */
export function makeRecords(count: number, first = 1): WriteRecord[] {
  const records: WriteRecord[] = []
  for (let i = 0; i < count; i++) {
    const key = `${KEYS[i % KEYS.length]}#${i % 7}`
    const isDelete = i % 5 === 4
    records.push({ kind: isDelete ? 'delete' : 'set', key, version: first + i, encoded: isDelete ? null : (VALUES[i % VALUES.length] ?? '') })
  }
  return records
}

/** Opens a log in `dir`, appends `records`, waits for fsync and closes it. */
export async function writeLog(dir: string, records: LogRecord[], options: Partial<DirtyLogOptions> = {}): Promise<void> {
  const { log } = await DirtyLog.open({ dir, ...options })
  for (const record of records) log.append(record)
  await log.synced()
  await log.close()
}

/** Paths of the segment files of `dir`, oldest first. */
export function segmentPaths(dir: string): string[] {
  return listSegments(dir).map((s) => join(dir, s.name))
}

/** Start offsets of the records of a segment file (from the frame lengths), plus its end. */
export function recordOffsets(path: string): number[] {
  const buf = readFileSync(path)
  const offsets: number[] = []
  let at = SEGMENT_HEADER_BYTES
  while (at < buf.length) {
    offsets.push(at)
    at += FRAME_HEADER_BYTES + buf.readUInt32LE(at)
  }
  offsets.push(at)
  return offsets
}

/** Copies every file of `from` into a fresh dir, cutting each segment named in `cuts` at that length. */
export function copyLog(from: string, cuts: Record<string, number> = {}): string {
  const to = tempDir('copy')
  for (const name of readdirSync(from)) {
    if (name === 'LOCK') continue
    const cut = cuts[name]
    if (cut === undefined) copyFileSync(join(from, name), join(to, name))
    else writeFileSync(join(to, name), readFileSync(join(from, name)).subarray(0, cut))
  }
  return to
}

/** Flips one bit of a file in place. */
export function flipBit(path: string, offset: number, bit = 0): void {
  const buf = readFileSync(path)
  buf[offset] = (buf[offset] ?? 0) ^ (1 << bit)
  writeFileSync(path, buf)
}
