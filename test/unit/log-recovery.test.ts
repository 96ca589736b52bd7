import assert from 'node:assert/strict'
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { describe, it } from 'node:test'
import { LogCorruptionError, LogFormatError } from '../../src/errors.js'
import { DirtyLog } from '../../src/log/dirty-log.js'
import type { LogEvent } from '../../src/log/types.js'
import { copyLog, flipBit, makeRecords, recordOffsets, segmentPaths, tempDir, writeLog } from './log-helpers.js'

describe('recovery: torn tails', () => {
  it('cut at EVERY byte offset inside the last 3 records → exactly the intact prefix, truncated and reported', async () => {
    const source = tempDir()
    const records = makeRecords(8).map((r, i) => ({ ...r, key: `κ${i}`, encoded: r.encoded === null ? null : i === 6 ? '' : `"✓${i}"` }))
    await writeLog(source, records)
    const [path] = segmentPaths(source)
    assert.ok(path !== undefined)
    const name = basename(path)
    const offsets = recordOffsets(path)
    const firstCut = offsets[offsets.length - 4]!
    const fileEnd = offsets.at(-1)!
    for (let cut = firstCut; cut < fileEnd; cut++) {
      const intact = offsets.filter((o, i) => i > 0 && o <= cut).length
      const boundary = offsets[intact]!
      const events: LogEvent[] = []
      const dir = copyLog(source, { [name]: cut })
      const { log, recovered } = await DirtyLog.open({ dir, onEvent: (e) => events.push(e) })
      assert.deepEqual(recovered.records, records.slice(0, intact), `cut at ${cut}`)
      assert.equal(statSync(join(dir, name)).size, boundary, `file cut back to the last intact record (cut ${cut})`)
      if (cut === boundary) {
        assert.deepEqual(recovered.truncations, [], `clean cut at ${cut}`)
      } else {
        assert.equal(recovered.truncations.length, 1, `cut at ${cut}`)
        assert.deepEqual({ ...recovered.truncations[0], reason: '' }, { segment: name, offset: boundary, droppedRecords: 1, reason: '' })
        assert.deepEqual(
          events.map((e) => e.type),
          ['truncated'],
        )
      }
      await log.close()
    }
  })

  it('a log recovered from a torn tail takes new appends and reads back clean', async () => {
    const source = tempDir()
    const records = makeRecords(5)
    await writeLog(source, records)
    const [path] = segmentPaths(source)
    const dir = copyLog(source, { [basename(path!)]: statSync(path!).size - 3 })
    const first = await DirtyLog.open({ dir })
    first.log.append({ kind: 'set', key: 'after', version: 10, encoded: '"x"' })
    await first.log.close()
    const second = await DirtyLog.open({ dir })
    assert.deepEqual(second.recovered.records, [...records.slice(0, 4), { kind: 'set', key: 'after', version: 10, encoded: '"x"' }])
    assert.deepEqual(second.recovered.truncations, [])
    await second.log.close()
  })

  it('a zero-filled tail (file extended, data never written) is a torn tail', async () => {
    const dir = tempDir()
    const records = makeRecords(4)
    await writeLog(dir, records)
    const [path] = segmentPaths(dir)
    const size = statSync(path!).size
    writeFileSync(path!, Buffer.concat([readFileSync(path!), Buffer.alloc(4096)]))
    const { log, recovered } = await DirtyLog.open({ dir })
    assert.deepEqual(recovered.records, records)
    assert.equal(recovered.truncations[0]?.offset, size)
    assert.equal(recovered.truncations[0]?.droppedRecords, 0)
    await log.close()
  })

  it('a last segment cut inside its header is removed', async () => {
    const dir = tempDir()
    await writeLog(dir, makeRecords(3))
    const [path] = segmentPaths(dir)
    const name = basename(path!)
    const copy = copyLog(dir, { [name]: 5 })
    const { log, recovered } = await DirtyLog.open({ dir: copy })
    assert.deepEqual(recovered.records, [])
    assert.equal(recovered.truncations[0]?.segment, name)
    assert.ok(!segmentPaths(copy).some((p) => basename(p) === name))
    await log.close()
  })
})

describe('recovery: corruption', () => {
  /** A log of 3+ segments; returns its records and the segment paths. */
  async function multiSegmentLog(): Promise<{ dir: string; records: ReturnType<typeof makeRecords>; paths: string[] }> {
    const dir = tempDir()
    const records = makeRecords(120)
    await writeLog(dir, records, { segmentBytes: 2048 })
    const paths = segmentPaths(dir)
    assert.ok(paths.length >= 3)
    return { dir, records, paths }
  }

  /** The index in `records` of the record at `slot` of segment `segment`. */
  function recordIndex(paths: string[], segment: number, slot: number): number {
    let index = 0
    for (let s = 0; s < segment; s++) index += recordOffsets(paths[s]!).length - 1
    return index + slot
  }

  it('a bit flip in a middle segment → LogCorruptionError naming segment and offset; no repair in strict mode', async () => {
    const { dir, paths } = await multiSegmentLog()
    const victim = paths[1]!
    const offsets = recordOffsets(victim)
    const bad = offsets[2]!
    flipBit(victim, bad + 20, 3)
    const sizeBefore = statSync(victim).size
    await assert.rejects(DirtyLog.open({ dir }), (error: unknown) => {
      assert.ok(error instanceof LogCorruptionError)
      assert.equal(error.code, 'E_LOG_CORRUPT')
      assert.equal(error.segment, basename(victim))
      assert.equal(error.offset, bad)
      assert.match(error.message, /checksum/)
      return true
    })
    assert.equal(statSync(victim).size, sizeBefore, 'strict recovery changes nothing')
    // The failed open released the lock: a second try fails the same way, not with DirectoryLockedError.
    await assert.rejects(DirtyLog.open({ dir }), LogCorruptionError)
  })

  it("recovery 'truncate' drops the bad record and everything after it, counting them", async () => {
    const { dir, records, paths } = await multiSegmentLog()
    const victim = paths[1]!
    const bad = recordOffsets(victim)[3]!
    flipBit(victim, bad + 30, 0)
    const kept = recordIndex(paths, 1, 3)
    const events: LogEvent[] = []
    const { log, recovered } = await DirtyLog.open({ dir, recovery: 'truncate', onEvent: (e) => events.push(e) })
    assert.deepEqual(recovered.records, records.slice(0, kept))
    assert.equal(recovered.truncations.length, 1)
    const [cut] = recovered.truncations
    assert.equal(cut?.segment, basename(victim))
    assert.equal(cut?.offset, bad)
    assert.equal(cut?.droppedRecords, records.length - kept)
    assert.equal(recovered.highestVersion, records.length, 'versions of intact dropped records still count')
    assert.equal(events.filter((e) => e.type === 'truncated').length, 1)
    await log.close()
    const again = await DirtyLog.open({ dir })
    assert.deepEqual(again.recovered.records, records.slice(0, kept), 'the repair is durable and clean')
    await again.log.close()
  })

  it('a damaged length field is corruption, not a torn tail, even in the last segment', async () => {
    const { dir, paths } = await multiSegmentLog()
    const last = paths.at(-1)!
    const offsets = recordOffsets(last)
    assert.ok(offsets.length >= 3)
    flipBit(last, offsets[0]! + 1, 6)
    await assert.rejects(DirtyLog.open({ dir }), (error: unknown) => {
      assert.ok(error instanceof LogCorruptionError)
      assert.equal(error.offset, offsets[0])
      assert.match(error.message, /length/)
      return true
    })
  })

  it('a checksum failure of the last record of the last segment is corruption (only cut-short records are torn)', async () => {
    const dir = tempDir()
    await writeLog(dir, makeRecords(4))
    const [path] = segmentPaths(dir)
    const offsets = recordOffsets(path!)
    flipBit(path!, offsets.at(-1)! - 1)
    await assert.rejects(DirtyLog.open({ dir }), LogCorruptionError)
  })

  it('a middle segment cut short is corruption', async () => {
    const { dir, paths } = await multiSegmentLog()
    const name = basename(paths[0]!)
    const copy = copyLog(dir, { [name]: statSync(paths[0]!).size - 2 })
    await assert.rejects(DirtyLog.open({ dir: copy }), (e: unknown) => e instanceof LogCorruptionError && e.segment === name)
  })

  it('a middle segment cut exactly at a record boundary is caught by the segment chain', async () => {
    const { dir, records, paths } = await multiSegmentLog()
    const victim = paths[1]!
    const offsets = recordOffsets(victim)
    const cut = offsets[offsets.length - 3]!
    const copy = copyLog(dir, { [basename(victim)]: cut })
    await assert.rejects(DirtyLog.open({ dir: copy }), (error: unknown) => {
      assert.ok(error instanceof LogCorruptionError)
      assert.equal(error.segment, basename(victim))
      assert.equal(error.offset, cut)
      assert.match(error.message, /was started when it was/)
      return true
    })
    const { log, recovered } = await DirtyLog.open({ dir: copy, recovery: 'truncate' })
    const kept = recordIndex(paths, 1, offsets.length - 3)
    assert.deepEqual(recovered.records, records.slice(0, kept))
    assert.equal(recovered.truncations[0]?.droppedRecords, records.length - kept - 2, 'records of the later segments')
    log.append({ kind: 'set', key: 'new', version: 1000, encoded: '1' })
    await log.close()
    const again = await DirtyLog.open({ dir: copy })
    assert.deepEqual(again.recovered.records, [...records.slice(0, kept), { kind: 'set', key: 'new', version: 1000, encoded: '1' }], 'the chain is whole again')
    await again.log.close()
  })

  it('a missing middle segment is caught by the segment chain', async () => {
    const { dir, paths } = await multiSegmentLog()
    rmSync(paths[1]!)
    await assert.rejects(DirtyLog.open({ dir }), (e: unknown) => e instanceof LogCorruptionError && e.segment === basename(paths[0]!) && /missing/.test(e.message))
  })

  it('an empty last segment whose predecessor vanished (power loss mid-roll) is not a chain break', async () => {
    const { dir, records, paths } = await multiSegmentLog()
    const last = paths.at(-1)!
    const lost = paths.at(-2)!
    for (const lastSize of [0, 24]) {
      const copy = copyLog(dir, { [basename(last)]: lastSize })
      rmSync(join(copy, basename(lost)))
      const { log, recovered } = await DirtyLog.open({ dir: copy })
      const survivingRecords = paths.slice(0, -2).reduce((n, p) => n + recordOffsets(p).length - 1, 0)
      assert.deepEqual(recovered.records, records.slice(0, survivingRecords), `last segment cut to ${lastSize}`)
      await log.close()
    }
  })

  it('a damaged segment header → LogCorruptionError', async () => {
    const { dir, paths } = await multiSegmentLog()
    flipBit(paths[1]!, 9)
    await assert.rejects(DirtyLog.open({ dir }), (e: unknown) => e instanceof LogCorruptionError && e.segment === basename(paths[1]!) && e.offset === 0)
  })

  it('an unknown magic or format version → LogFormatError', async () => {
    for (const [offset, value] of [
      [0, 0x41],
      [4, 9],
    ] as const) {
      const dir = tempDir()
      await writeLog(dir, makeRecords(3))
      const [path] = segmentPaths(dir)
      const buf = readFileSync(path!)
      buf[offset] = value
      writeFileSync(path!, buf)
      await assert.rejects(DirtyLog.open({ dir, recovery: 'truncate' }), (e: unknown) => e instanceof LogFormatError && e.code === 'E_LOG_FORMAT')
    }
  })

  it('a damaged checkpoint → LogFormatError', async () => {
    const dir = tempDir()
    const { log } = await DirtyLog.open({ dir })
    log.append({ kind: 'set', key: 'k', version: 1, encoded: '1' })
    await log.checkpoint(1, 1)
    await log.close()
    flipBit(join(dir, 'CHECKPOINT'), 10)
    await assert.rejects(DirtyLog.open({ dir }), /checkpoint checksum/)
  })
})
