/**
 * The segment chain's anchor: a deleted oldest segment is corruption (LogCorruptionError naming
 * it, `verify` exit 2), whether or not a checkpoint deleted segments before it; `truncate`
 * reports the loss and re-anchors; a format-1 checkpoint still opens and is upgraded.
 */
import assert from 'node:assert/strict'
import { readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { describe, it } from 'node:test'
import { crc32 } from 'node:zlib'
import { run as verify } from '../../src/cli/commands/verify.js'
import { LogCorruptionError } from '../../src/errors.js'
import { readCheckpoint } from '../../src/log/checkpoint.js'
import { DirtyLog } from '../../src/log/dirty-log.js'
import type { LogEvent } from '../../src/log/types.js'
import { makeRecords, segmentPaths, tempDir } from './log-helpers.js'
import { runCaptured } from '../helpers/capture.js'

async function verifyCode(dir: string): Promise<{ code: number; text: string }> {
  return runCaptured(verify, [dir])
}

/** 60 records over several 1 KiB segments; with `checkpointAt`, a checkpoint that deletes the segments below it. */
async function sixtyRecords(checkpointAt?: number): Promise<string> {
  const dir = tempDir('anchor')
  const { log } = await DirtyLog.open({ dir, segmentBytes: 1024 })
  for (const record of makeRecords(60)) log.append(record)
  await log.synced()
  if (checkpointAt !== undefined) await log.checkpoint(checkpointAt, 60)
  await log.close()
  return dir
}

function isCorruptionNaming(name: string) {
  return (error: unknown) => {
    assert.ok(error instanceof LogCorruptionError, String(error))
    assert.equal(error.segment, name)
    assert.match(error.message, /missing/)
    return true
  }
}

describe('segment chain anchor', () => {
  it('a fresh log whose first segment is deleted → LogCorruptionError naming it; verify says CORRUPT', async () => {
    const dir = await sixtyRecords()
    const paths = segmentPaths(dir)
    assert.ok(paths.length >= 3, `several segments (${paths.length})`)
    const first = basename(paths[0]!)
    unlinkSync(paths[0]!)
    await assert.rejects(DirtyLog.open({ dir }), isCorruptionNaming(first))
    const { code, text } = await verifyCode(dir)
    assert.equal(code, 2)
    assert.match(text, new RegExp(`CORRUPT: ${first.replace('.', '\\.')} at offset 0: .*missing`))
  })

  it('after a checkpoint deleted the leading segments, losing the first one left → LogCorruptionError naming it', async () => {
    const dir = await sixtyRecords(20)
    const before = segmentPaths(dir)
    assert.notEqual(basename(before[0]!), 'segment-000000000001.wbl', 'the checkpoint deleted segments')
    // Untouched, it reopens (the anchor names the first segment left).
    const reopened = await DirtyLog.open({ dir })
    assert.ok(reopened.recovered.records.every((r) => r.version > 20))
    await reopened.log.close()
    const paths = segmentPaths(dir)
    const first = basename(paths[0]!)
    unlinkSync(paths[0]!)
    await assert.rejects(DirtyLog.open({ dir }), isCorruptionNaming(first))
    assert.equal((await verifyCode(dir)).code, 2)
  })

  it("recovery: 'truncate' reports the missing segment, keeps the rest and re-anchors so a strict open works", async () => {
    const dir = await sixtyRecords()
    const paths = segmentPaths(dir)
    const first = basename(paths[0]!)
    unlinkSync(paths[0]!)
    const events: LogEvent[] = []
    const { log, recovered } = await DirtyLog.open({ dir, recovery: 'truncate', onEvent: (e) => events.push(e) })
    assert.equal(recovered.truncations[0]?.segment, first)
    assert.match(recovered.truncations[0]?.reason ?? '', /missing.*recovery: truncate/)
    assert.ok(events.some((e) => e.type === 'truncated' && e.segment === first))
    assert.ok(recovered.records.length > 0 && recovered.records.length < 60, 'what the other segments hold is kept')
    await log.close()
    const strict = await DirtyLog.open({ dir })
    assert.equal(strict.recovered.records.length, recovered.records.length)
    await strict.log.close()
  })

  it('a format-1 checkpoint (no anchor) still opens, and the next one is format 2 with the anchor', async () => {
    const dir = await sixtyRecords()
    writeFileSync(join(dir, 'CHECKPOINT'), formatOneCheckpoint(10, 60))
    const { log, recovered } = await DirtyLog.open({ dir })
    assert.equal(recovered.lowWater, 10)
    assert.ok(recovered.records.every((r) => r.version > 10))
    await log.close()
    assert.equal(statSync(join(dir, 'CHECKPOINT')).size, 36)
    assert.equal(readCheckpoint(dir).firstSegment, Number(/(\d+)\.wbl$/.exec(segmentPaths(dir)[0]!)![1]))
  })

  it('a segment that rolls while a checkpoint is being written is kept, and the anchor still holds', async () => {
    const dir = tempDir('anchor-roll')
    const { log } = await DirtyLog.open({ dir, segmentBytes: 1024 })
    const records = makeRecords(40)
    log.append(records[0]!)
    await log.synced()
    let landed = false
    const pending = log.checkpoint(1, 1).then(() => (landed = true)) // only the active segment exists: it becomes the anchor
    // Append one record per turn while the checkpoint's fsyncs run, so segments roll during it.
    let next = 1
    while (!landed && next < records.length) {
      log.append(records[next++]!)
      await new Promise((resolve) => setImmediate(resolve))
    }
    await pending
    assert.ok(log.stats().segments > 1 && next > 2, 'the log rolled while the checkpoint was written')
    for (const record of records.slice(next)) log.append(record)
    await log.synced()
    await log.close()
    const { log: again, recovered } = await DirtyLog.open({ dir })
    assert.deepEqual(
      recovered.records.map((r) => r.version),
      records.slice(1).map((r) => r.version),
    )
    await again.close()
  })

  it('a format-2 checkpoint cut short or with a flipped bit is refused with LogFormatError', async () => {
    const dir = await sixtyRecords(20)
    const good = readFileSync(join(dir, 'CHECKPOINT'))
    assert.equal(good.length, 36)
    writeFileSync(join(dir, 'CHECKPOINT'), good.subarray(0, 28))
    assert.throws(() => readCheckpoint(dir), { code: 'E_LOG_FORMAT' })
    const flipped = Buffer.from(good)
    flipped[25] = flipped[25]! ^ 1 // inside firstSegment
    writeFileSync(join(dir, 'CHECKPOINT'), flipped)
    assert.throws(() => readCheckpoint(dir), /checksum/)
  })
})

/** The 28-byte checkpoint the previous release wrote. */
function formatOneCheckpoint(lowWater: number, highWater: number): Buffer {
  const buf = Buffer.alloc(28)
  buf.writeUInt32LE(0x50434257, 0)
  buf[4] = 1
  buf.writeUInt32LE(lowWater, 8)
  buf.writeUInt32LE(highWater, 16)
  buf.writeUInt32LE(crc32(buf.subarray(0, 24)), 24)
  return buf
}
