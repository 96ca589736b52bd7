import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { describe, it } from 'node:test'
import { run as inspect } from '../../src/cli/commands/inspect.js'
import { run as verify } from '../../src/cli/commands/verify.js'
import { DEAD_LETTER_FILE, encodeRecord as encodeDeadLetter, type DeadLetterRecord } from '../../src/dead-letters/file.js'
import { DirtyLog } from '../../src/log/dirty-log.js'
import { isAlive } from '../../src/log/lock.js'
import type { LogRecord } from '../../src/log/types.js'
import { flipBit, makeRecords, recordOffsets, segmentPaths, tempDir, writeLog } from './log-helpers.js'
import { runCaptured } from '../helpers/capture.js'

/** Runs a command and captures what it prints. */
async function capture(command: typeof inspect, args: string[]): Promise<{ code: number; text: string }> {
  return runCaptured(command, args)
}

/** A closed log of several segments with a checkpoint at lowWater 40. */
async function sampleLog(): Promise<{ dir: string; records: LogRecord[] }> {
  const dir = tempDir('cli')
  const records = makeRecords(120)
  const { log } = await DirtyLog.open({ dir, segmentBytes: 2048 })
  for (const record of records) log.append(record)
  await log.checkpoint(40, 120)
  await log.close()
  return { dir, records }
}

/** Files of `dir` with their sizes and contents, to prove a command changed nothing. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {}
  for (const name of readdirSync(dir)) files[name] = readFileSync(join(dir, name)).toString('base64')
  return files
}

describe('writebehind inspect', () => {
  it('--json lists segments with version ranges, the checkpoint, dirty keys and total bytes', async () => {
    const { dir, records } = await sampleLog()
    const { code, text } = await capture(inspect, [dir, '--json', '--limit', '1000'])
    assert.equal(code, 0)
    const report = JSON.parse(text)
    const paths = segmentPaths(dir)
    assert.deepEqual(
      report.segments.map((s: { name: string }) => s.name),
      paths.map((p) => basename(p)),
    )
    assert.equal(
      report.totalBytes,
      paths.reduce((sum, p) => sum + statSync(p).size, 0),
    )
    assert.deepEqual(report.checkpoint, { lowWater: 40, highWater: 120 })
    const recordCount = report.segments.reduce((sum: number, s: { records: number }) => sum + s.records, 0)
    const expectedDirty = new Map<string, LogRecord>()
    for (const r of records.filter((r) => r.version > 40)) expectedDirty.set(r.key, r)
    assert.equal(report.dirtyKeyCount, expectedDirty.size)
    for (const k of report.dirtyKeys) assert.equal(k.version, expectedDirty.get(k.key)?.version, k.key)
    assert.ok(recordCount >= 80, 'segments above lowWater are kept')
    for (const s of report.segments.filter((s: { records: number }) => s.records > 0)) assert.ok(s.firstVersion <= s.lastVersion)
    assert.deepEqual(report.problems, [])
    assert.equal(report.lock, null)
    assert.equal(report.deadLetters, 0, 'no dead-letter file reads as none')
  })

  it('prints a readable summary, limited to --limit dirty keys', async () => {
    const { dir } = await sampleLog()
    const { code, text } = await capture(inspect, [dir, '--limit', '3'])
    assert.equal(code, 0)
    assert.match(text, /checkpoint: lowWater 40, highWater 120/)
    assert.match(text, /segment-\d{12}\.wbl {2}\d+ bytes {2}\d+ records {2}versions \d+\.\.\d+/)
    assert.match(text, /dirty keys: \d+/)
    assert.match(text, /\.\.\. and \d+ more/)
    assert.match(text, /writer: none/)
    assert.match(text, /dead letters: 0/)
  })

  it('reads a live log without the lock and without disturbing the writer', async () => {
    const dir = tempDir('cli-live')
    const { log } = await DirtyLog.open({ dir })
    for (const record of makeRecords(10)) log.append(record)
    await log.written()
    const { code, text } = await capture(inspect, [dir, '--json'])
    assert.equal(code, 0)
    const report = JSON.parse(text)
    assert.deepEqual(report.lock, { pid: process.pid, alive: true })
    assert.equal(report.dirtyKeyCount > 0, true)
    log.append({ kind: 'set', key: 'after-inspect', version: 11, encoded: '1' })
    await log.close()
    const { log: again, recovered } = await DirtyLog.open({ dir })
    assert.equal(recovered.records.at(-1)?.key, 'after-inspect')
    await again.close()
  })

  it('reports a stale lock of a dead process', async () => {
    const { dir } = await sampleLog()
    let pid = 4_000_000
    while (isAlive(pid)) pid++
    writeFileSync(join(dir, 'LOCK'), `${pid}\n`)
    const { text } = await capture(inspect, [dir])
    assert.match(text, new RegExp(`writer: pid ${pid} \\(not running: stale lock\\)`))
  })

  it('counts the dead letters of the directory', async () => {
    const { dir } = await sampleLog()
    const letter = { key: 'poison', version: 7, kind: 'set' as const, encoded: '1', error: { name: 'Error', message: 'boom' }, attempts: 3, firstFailedAt: 1, lastFailedAt: 2 }
    writeFileSync(join(dir, DEAD_LETTER_FILE), encodeDeadLetter({ op: 'add', ...letter } as DeadLetterRecord))
    const { text } = await capture(inspect, [dir, '--json'])
    assert.equal(JSON.parse(text).deadLetters, 1)
  })

  it('bad arguments → 64 with usage; a missing directory → 66', async () => {
    assert.equal((await capture(inspect, [])).code, 64)
    assert.match((await capture(inspect, ['--bogus', '/tmp'])).text, /usage: writebehind inspect/)
    assert.equal((await capture(inspect, ['/tmp', '--limit', 'x'])).code, 64)
    assert.equal((await capture(inspect, [join(tempDir('cli'), 'nope')])).code, 66)
  })
})

describe('writebehind verify', () => {
  it('a clean log → OK, exit 0', async () => {
    const { dir } = await sampleLog()
    const { code, text } = await capture(verify, [dir])
    assert.equal(code, 0)
    assert.match(text, /^OK: \d+ records in \d+ segments\n$/)
  })

  it('only a torn tail → exit 1, naming segment and offset, and the file is left as it was', async () => {
    const dir = tempDir('cli-torn')
    await writeLog(dir, makeRecords(6))
    const [path] = segmentPaths(dir)
    const offsets = recordOffsets(path!)
    writeFileSync(path!, readFileSync(path!).subarray(0, offsets.at(-1)! - 4))
    const before = snapshot(dir)
    const { code, text } = await capture(verify, [dir])
    assert.equal(code, 1)
    assert.match(text, new RegExp(`TORN TAIL: ${basename(path!)} at offset ${offsets.at(-2)}`))
    assert.deepEqual(snapshot(dir), before, 'verify repairs nothing')
  })

  it('a bit flip mid-log → exit 2 with each problem, its segment and offset', async () => {
    const { dir } = await sampleLog()
    const paths = segmentPaths(dir)
    const victim = paths[0]!
    const bad = recordOffsets(victim)[1]!
    flipBit(victim, bad + 16)
    const { code, text } = await capture(verify, [dir])
    assert.equal(code, 2)
    assert.match(text, new RegExp(`CORRUPT: ${basename(victim)} at offset ${bad}: checksum mismatch`))
    const json = await capture(verify, [dir, '--json'])
    assert.equal(json.code, 2)
    const { remedy, ...problem } = JSON.parse(json.text).problems[0]
    assert.deepEqual(problem, { kind: 'corrupt', file: basename(victim), offset: bad, reason: 'checksum mismatch' })
    assert.match(remedy, /recovery: "truncate"/, 'truncate is the remedy for a bad segment record')
  })

  it('a middle segment cut at a record boundary → exit 2', async () => {
    const { dir } = await sampleLog()
    const [first] = segmentPaths(dir)
    const offsets = recordOffsets(first!)
    writeFileSync(first!, readFileSync(first!).subarray(0, offsets[offsets.length - 2]))
    const { code, text } = await capture(verify, [dir])
    assert.equal(code, 2)
    assert.match(text, new RegExp(`CORRUPT: ${basename(first!)} at offset ${offsets[offsets.length - 2]}: .*was started when it was`))
  })

  it('a damaged checkpoint or segment magic → exit 2', async () => {
    const { dir } = await sampleLog()
    flipBit(join(dir, 'CHECKPOINT'), 12)
    assert.equal((await capture(verify, [dir])).code, 2)
    const other = await sampleLog()
    flipBit(segmentPaths(other.dir)[0]!, 0)
    const { code, text } = await capture(verify, [other.dir])
    assert.equal(code, 2)
    assert.match(text, /bad magic/)
  })
})
