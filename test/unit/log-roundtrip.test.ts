import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { CacheClosedError } from '../../src/errors.js'
import { DirtyLog } from '../../src/log/dirty-log.js'
import type { LogEvent } from '../../src/log/types.js'
import { makeRecords, segmentPaths, tempDir, writeLog } from './log-helpers.js'

describe('DirtyLog round trip', () => {
  it('recovers every record, version and highestVersion after close and reopen', async () => {
    const dir = tempDir()
    const records = makeRecords(500)
    await writeLog(dir, records)
    const { log, recovered } = await DirtyLog.open({ dir })
    assert.deepEqual(recovered.records, records)
    assert.equal(recovered.highestVersion, 500)
    assert.equal(recovered.lowWater, 0)
    assert.deepEqual(recovered.truncations, [])
    assert.ok(
      recovered.records.some((r) => r.encoded === ''),
      'an empty value string survives',
    )
    await log.close()
  })

  it('appends after a reopen continue the log, under both write schedulings', async () => {
    for (const writeScheduling of ['microtask', 'immediate'] as const) {
      const dir = tempDir()
      const records = makeRecords(60)
      await writeLog(dir, records.slice(0, 30), { writeScheduling })
      await writeLog(dir, records.slice(30), { writeScheduling })
      const { log, recovered } = await DirtyLog.open({ dir })
      assert.deepEqual(recovered.records, records, writeScheduling)
      await log.close()
    }
  })

  it('keeps versions as 8 bytes, up to Number.MAX_SAFE_INTEGER', async () => {
    const dir = tempDir()
    const big = [2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7, Number.MAX_SAFE_INTEGER]
    await writeLog(
      dir,
      big.map((version) => ({ kind: 'set', key: `k${version}`, version, encoded: '1' })),
    )
    const { log, recovered } = await DirtyLog.open({ dir })
    assert.deepEqual(
      recovered.records.map((r) => r.version),
      big,
    )
    assert.equal(recovered.highestVersion, Number.MAX_SAFE_INTEGER)
    await log.close()
  })

  it('rejects bad records with a TypeError naming the field, and versions that do not increase', async () => {
    const { log } = await DirtyLog.open({ dir: tempDir() })
    log.append({ kind: 'set', key: 'a', version: 5, encoded: '1' })
    assert.throws(() => log.append({ kind: 'set', key: 'a', version: 5, encoded: '1' }), /record\.version/)
    assert.throws(() => log.append({ kind: 'set', key: 'a', version: 6.5, encoded: '1' }), TypeError)
    assert.throws(() => log.append({ kind: 'set', key: 'a', version: 7, encoded: null }), /record\.encoded/)
    assert.throws(() => log.append({ kind: 'delete', key: 'a', version: 7, encoded: 'x' }), /record\.encoded/)
    assert.throws(() => log.append({ kind: 'nope' as 'set', key: 'a', version: 7, encoded: 'x' }), /record\.kind/)
    assert.throws(() => log.append({ kind: 'set', key: 1 as unknown as string, version: 7, encoded: 'x' }), /record\.key/)
    await log.close()
  })

  it('validates options at the door with TypeErrors naming them', async () => {
    const dir = tempDir()
    await assert.rejects(DirtyLog.open({ dir: '' }), /options\.dir/)
    await assert.rejects(DirtyLog.open({ dir, segmentBytes: 10 }), /options\.segmentBytes/)
    await assert.rejects(DirtyLog.open({ dir, syncIntervalMs: -1 }), /options\.syncIntervalMs/)
    await assert.rejects(DirtyLog.open({ dir, recovery: 'lenient' as 'strict' }), /options\.recovery/)
  })

  it('close is idempotent, flushes what is buffered, and later appends throw CacheClosedError', async () => {
    const dir = tempDir()
    const { log } = await DirtyLog.open({ dir })
    log.append({ kind: 'set', key: 'k', version: 1, encoded: '"v"' })
    const first = log.close()
    assert.equal(log.close(), first)
    await first
    assert.throws(() => log.append({ kind: 'set', key: 'k', version: 2, encoded: '"v"' }), CacheClosedError)
    assert.equal(existsSync(join(dir, 'LOCK')), false, 'close releases the lock')
    const reopened = await DirtyLog.open({ dir })
    assert.equal(reopened.recovered.records.length, 1)
    await reopened.log.close()
  })
})

describe('DirtyLog segments and checkpoints', () => {
  it('rolls segments at segmentBytes; names sort in order', async () => {
    const dir = tempDir()
    const segmentBytes = 2048
    const { log } = await DirtyLog.open({ dir, segmentBytes })
    const records = makeRecords(300)
    for (const record of records) log.append(record)
    await log.written()
    const paths = segmentPaths(dir)
    assert.ok(paths.length >= 5, `expected several segments, got ${paths.length}`)
    assert.deepEqual([...paths].sort(), paths)
    for (const path of paths.slice(0, -1)) {
      const size = statSync(path).size
      assert.ok(size >= segmentBytes && size < segmentBytes + 1200, `closed segment ${path} has ${size} bytes`)
    }
    assert.equal(log.stats().segments, paths.length)
    await log.close()
    const { log: again, recovered } = await DirtyLog.open({ dir, segmentBytes })
    assert.deepEqual(recovered.records, records)
    await again.close()
  })

  it('a checkpoint deletes whole segments ≤ lowWater, never the active one, and replay starts above lowWater', async () => {
    const dir = tempDir()
    const events: LogEvent[] = []
    const { log } = await DirtyLog.open({ dir, segmentBytes: 1024, onEvent: (e) => events.push(e) })
    const records = makeRecords(200)
    for (const record of records) log.append(record)
    await log.synced()
    const before = log.stats()
    await log.checkpoint(120, 200)
    const after = log.stats()
    assert.ok(after.segments < before.segments, 'some segments were deleted')
    assert.ok(existsSync(join(dir, after.activeSegment)))
    const deleted = events.filter((e) => e.type === 'segment-deleted')
    assert.equal(deleted.length, before.segments - after.segments)
    for (const e of deleted) assert.ok(e.type === 'segment-deleted' && e.highestVersion <= 120)
    await log.close()
    const { log: again, recovered } = await DirtyLog.open({ dir })
    assert.equal(recovered.lowWater, 120)
    assert.deepEqual(recovered.records, records.slice(120))
    await again.close()
  })

  it('a checkpoint above everything keeps the active segment; highestVersion survives losing every segment', async () => {
    const dir = tempDir()
    const { log } = await DirtyLog.open({ dir, segmentBytes: 512 })
    for (const record of makeRecords(50)) log.append(record)
    await log.synced()
    await log.checkpoint(50, 10) // a low highWater argument must not lower the mark
    assert.equal(log.stats().segments, 1, 'only the active segment is left')
    await log.close()
    const first = await DirtyLog.open({ dir })
    assert.deepEqual(first.recovered.records, [])
    assert.equal(first.recovered.highestVersion, 50)
    await first.log.close()
    // The segments left hold nothing above lowWater, so reopening deletes them too.
    const second = await DirtyLog.open({ dir })
    assert.equal(second.recovered.highestVersion, 50)
    assert.equal(readdirSync(dir).filter((n) => n.startsWith('segment-')).length, 1, 'only the new active segment')
    await second.log.close()
  })

  it('sessions that append nothing, small segments and checkpoints in between never break the segment chain', async () => {
    const dir = tempDir()
    const records = makeRecords(240)
    let next = 0
    for (let session = 0; session < 12; session++) {
      const { log, recovered } = await DirtyLog.open({ dir, segmentBytes: 700 })
      assert.equal(recovered.highestVersion, next, `session ${session}`)
      const batch = session % 3 === 1 ? 0 : 30
      for (const record of records.slice(next, next + batch)) log.append(record)
      next += batch
      if (session % 4 === 3) await log.checkpoint(next - 10, next)
      await log.close()
    }
    const { log, recovered } = await DirtyLog.open({ dir })
    const lowWater = recovered.lowWater
    assert.deepEqual(recovered.records, records.slice(lowWater, next))
    await log.close()
  })

  it('checkpoint validates its arguments and never moves lowWater down', async () => {
    const dir = tempDir()
    const { log } = await DirtyLog.open({ dir })
    for (const record of makeRecords(10)) log.append(record)
    await assert.rejects(log.checkpoint(-1, 3), TypeError)
    await assert.rejects(log.checkpoint(1, Number.NaN), TypeError)
    await log.checkpoint(8, 10)
    await log.checkpoint(3, 10)
    await log.close()
    const { log: again, recovered } = await DirtyLog.open({ dir })
    assert.equal(recovered.lowWater, 8)
    assert.deepEqual(
      recovered.records.map((r) => r.version),
      [9, 10],
    )
    await again.close()
  })
})

describe('DirtyLog permissions', () => {
  it('creates the directory 0700 and segments, checkpoint and lock 0600', async () => {
    const dir = join(tempDir(), 'nested', 'log')
    const { log } = await DirtyLog.open({ dir })
    log.append({ kind: 'set', key: 'k', version: 1, encoded: '1' })
    await log.checkpoint(0, 1)
    assert.equal(statSync(dir).mode & 0o777, 0o700)
    for (const name of readdirSync(dir)) assert.equal(statSync(join(dir, name)).mode & 0o777, 0o600, name)
    assert.ok(readdirSync(dir).includes('LOCK') && readdirSync(dir).includes('CHECKPOINT'))
    await log.close()
  })

  it('leaves an existing directory mode alone', async () => {
    const dir = join(tempDir(), 'existing')
    mkdirSync(dir, { mode: 0o750 })
    const { log } = await DirtyLog.open({ dir })
    assert.equal(statSync(dir).mode & 0o777, 0o750)
    await log.close()
  })
})
