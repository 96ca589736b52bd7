/**
 * `verify` and `inspect` on the whole dir: the dead-letter file and the checkpoint are checked,
 * a directory where a file belongs is a problem (no stack trace), and each error's remedy is one
 * that applies — followed, it works.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { run as inspect } from '../../src/cli/commands/inspect.js'
import { run as verify } from '../../src/cli/commands/verify.js'
import { LogCorruptionError, LogFormatError } from '../../src/errors.js'
import { DEAD_LETTER_FILE, encodeRecord, type DeadLetterRecord } from '../../src/dead-letters/file.js'
import { DeadLetterQueue } from '../../src/dead-letters/queue.js'
import { DirtyLog } from '../../src/log/dirty-log.js'
import { makeRecords, tempDir, writeLog } from './log-helpers.js'
import { runCaptured } from '../helpers/capture.js'

async function capture(command: typeof verify, args: string[]): Promise<{ code: number; text: string }> {
  return runCaptured(command, args)
}

function letterLine(key: string, version: number): string {
  const letter = { key, version, kind: 'set' as const, encoded: '1', error: { name: 'Error', message: 'boom' }, attempts: 3, firstFailedAt: 1, lastFailedAt: 2 }
  return encodeRecord({ op: 'add', ...letter } as DeadLetterRecord)
}

/** A closed log of 30 records with a checkpoint, and two dead letters. */
async function sampleDir(): Promise<string> {
  const dir = tempDir('verify-dir')
  const { log } = await DirtyLog.open({ dir, segmentBytes: 1024 })
  for (const record of makeRecords(30)) log.append(record)
  await log.checkpoint(10, 30)
  await log.close()
  writeFileSync(join(dir, DEAD_LETTER_FILE), letterLine('a', 1) + letterLine('b', 2))
  return dir
}

describe('verify checks the dead-letter file', () => {
  it('a bad line before good ones: open refuses, verify exit 2 naming the file; the remedy (remove the line) works', async () => {
    const dir = await sampleDir()
    const good = letterLine('c', 3)
    writeFileSync(join(dir, DEAD_LETTER_FILE), letterLine('a', 1).replace('"a"', '"x"') + good)
    await assert.rejects(DeadLetterQueue.open(dir), (error: unknown) => {
      assert.ok(error instanceof LogCorruptionError)
      assert.match(error.message, /fix or delete the bad line/)
      assert.match(error.message, /does not apply to dead letters/)
      assert.doesNotMatch(error.message, /open with recovery: "truncate"/)
      return true
    })
    const { code, text } = await capture(verify, [dir])
    assert.equal(code, 2)
    assert.match(text, /CORRUPT: dead-letters\.log at offset 0: dead-letter record fails its checksum/)
    assert.match(text, /fix: No dead letter was dropped/)
    writeFileSync(join(dir, DEAD_LETTER_FILE), good) // the remedy: delete the bad line
    assert.equal((await capture(verify, [dir])).code, 0)
    const queue = await DeadLetterQueue.open(dir)
    assert.equal(queue.list().length, 1)
    await queue.close()
  })

  it('a torn last line → exit 1, TORN TAIL of dead-letters.log', async () => {
    const dir = await sampleDir()
    writeFileSync(join(dir, DEAD_LETTER_FILE), letterLine('a', 1) + '{"crc":"0000')
    const { code, text } = await capture(verify, [dir])
    assert.equal(code, 1)
    assert.match(text, /TORN TAIL: dead-letters\.log at offset \d+/)
  })

  it('a clean dir → OK', async () => {
    const dir = await sampleDir()
    assert.equal((await capture(verify, [dir])).code, 0)
  })
})

describe('a directory where a file belongs', () => {
  for (const name of ['CHECKPOINT', DEAD_LETTER_FILE, 'segment-000000000099.wbl']) {
    it(`${name}: inspect reports it without a stack trace, verify exits 2`, async () => {
      const dir = await sampleDir()
      rmSync(join(dir, name), { force: true })
      mkdirSync(join(dir, name))
      const shown = await capture(inspect, [dir, '--json'])
      assert.equal(shown.code, 0)
      JSON.parse(shown.text)
      const checked = await capture(verify, [dir])
      assert.equal(checked.code, 2)
      assert.match(checked.text, new RegExp(`${name.replace('.', '\\.')}.*(directory|EISDIR)`))
    })
  }

  it('CHECKPOINT a directory: open() throws LogFormatError saying to move it, not a raw EISDIR', async () => {
    const dir = tempDir('cp-dir')
    await writeLog(dir, makeRecords(5))
    mkdirSync(join(dir, 'CHECKPOINT'))
    await assert.rejects(DirtyLog.open({ dir }), (error: unknown) => {
      assert.ok(error instanceof LogFormatError, String(error))
      assert.match(error.message, /is a directory.*Move that directory out/)
      return true
    })
  })
})

describe('the remedy a damaged checkpoint names applies', () => {
  it('moved aside and opened with recovery: "truncate", the log opens and replays what its segments hold', async () => {
    const dir = await sampleDir()
    const path = join(dir, 'CHECKPOINT')
    const bytes = readFileSync(path)
    bytes[9] = bytes[9]! ^ 1
    writeFileSync(path, bytes)
    let message = ''
    await assert.rejects(DirtyLog.open({ dir }), (error: unknown) => {
      assert.ok(error instanceof LogFormatError)
      message = error.message
      return true
    })
    assert.match(message, /Move CHECKPOINT aside.*recovery: "truncate"/)
    renameSync(path, join(dir, 'CHECKPOINT.bad'))
    const { log, recovered } = await DirtyLog.open({ dir, recovery: 'truncate' })
    assert.ok(recovered.records.length > 0, 'the records still in the segments are replayed')
    assert.ok(recovered.records.every((r) => r.version <= 30))
    await log.close()
    const strict = await DirtyLog.open({ dir })
    await strict.log.close()
  })
})
