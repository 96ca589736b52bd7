import assert from 'node:assert/strict'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { LogFailedError } from '../../src/errors.js'
import { DirtyLog } from '../../src/log/dirty-log.js'
import type { LogEvent, LogRecord } from '../../src/log/types.js'
import { FakeClock, settle } from '../../src/testing/fake-clock.js'
import { DirSyncTracker } from '../durability/dir-sync-tracker.js'
import { copyLog, makeRecords, tempDir, writeLog } from './log-helpers.js'

/** Lets real I/O callbacks (an fdatasync in the thread pool) run until `done()` holds. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !done(); i++) await settle(1)
  assert.ok(done(), 'condition never held')
}

describe('power-loss simulation', () => {
  it('every record whose synced() resolved survives losing all unsynced bytes of every segment', async () => {
    const dir = tempDir()
    const { log } = await DirtyLog.open({ dir, segmentBytes: 1500 })
    const records = makeRecords(400)
    let durable = 0
    for (const [i, record] of records.entries()) {
      log.append(record)
      if (i % 37 === 0) {
        await log.synced()
        durable = i + 1
      } else if (i % 11 === 0) {
        await log.written()
      }
    }
    await log.written()
    const stats = log.stats()
    assert.ok(stats.segments >= 3)
    assert.ok(stats.lastSyncedOffset <= (stats.syncedOffsets[stats.activeSegment] ?? 0))
    const afterPowerLoss = copyLog(dir, stats.syncedOffsets)
    const { log: recoveredLog, recovered } = await DirtyLog.open({ dir: afterPowerLoss })
    assert.ok(recovered.records.length >= durable, `${recovered.records.length} recovered, ${durable} were acknowledged durable`)
    assert.ok(recovered.records.length < records.length, 'the simulated power loss did lose the unsynced tail')
    assert.deepEqual(recovered.records, records.slice(0, recovered.records.length))
    await recoveredLog.close()
    await log.close()
  })

  it('after synced() resolves, the active segment is synced up to its full size', async () => {
    const dir = tempDir()
    const { log } = await DirtyLog.open({ dir })
    for (const record of makeRecords(20)) log.append(record)
    await log.written()
    const beforeSync = log.stats()
    assert.ok(beforeSync.lastSyncedOffset < beforeSync.bytes)
    await log.synced()
    const after = log.stats()
    assert.equal(after.lastSyncedOffset, after.bytes)
    await log.close()
  })
})

describe('directory entries', () => {
  it('every segment but the active one has a durable name, even with no synced() call', async () => {
    const dir = tempDir()
    const tracker = await DirSyncTracker.install(dir)
    try {
      const { log } = await DirtyLog.open({ dir, segmentBytes: 800 })
      for (const record of makeRecords(100)) {
        log.append(record)
        await log.written()
      }
      const stats = log.stats()
      assert.ok(stats.segments >= 3)
      const durable = tracker.durableNames()
      for (const name of Object.keys(stats.syncedOffsets)) {
        if (name !== stats.activeSegment) assert.ok(durable.has(name), `${name} could vanish in a power loss`)
      }
      await log.close()
    } finally {
      tracker.uninstall()
    }
  })

  it('open makes the names of recovered segments durable before it creates a new one', async () => {
    const dir = tempDir()
    await writeLog(dir, makeRecords(5), {})
    const tracker = await DirSyncTracker.install(dir)
    try {
      const { log } = await DirtyLog.open({ dir })
      const { activeSegment, syncedOffsets } = log.stats()
      for (const name of Object.keys(syncedOffsets)) if (name !== activeSegment) assert.ok(tracker.durableNames().has(name), name)
      await log.close()
    } finally {
      tracker.uninstall()
    }
  })
})

describe('crash model (property)', () => {
  type Op = { op: 'append'; n: number; size: number } | { op: 'written' } | { op: 'synced' } | { op: 'checkpoint'; back: number }
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constant('append' as const), n: fc.integer({ min: 1, max: 12 }), size: fc.nat({ max: 150 }) }),
    fc.constant({ op: 'written' as const }),
    fc.constant({ op: 'synced' as const }),
    fc.record({ op: fc.constant('checkpoint' as const), back: fc.nat({ max: 20 }) }),
  )

  it('after a power loss (each segment cut anywhere at or past its synced offset) or a process crash, recovery keeps exactly a prefix holding everything acknowledged', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 20 }), fc.nat(), async (ops, extra) => {
        const dir = tempDir('model')
        const { log } = await DirtyLog.open({ dir, segmentBytes: 600 })
        const appended: LogRecord[] = []
        let written = 0
        let synced = 0
        for (const op of ops) {
          if (op.op === 'append') {
            for (let i = 0; i < op.n; i++) {
              const version = appended.length + 1
              const record: LogRecord = { kind: 'set', key: `k${version % 5}`, version, encoded: JSON.stringify('v'.repeat(op.size)) }
              log.append(record)
              appended.push(record)
            }
          } else if (op.op === 'written') {
            await log.written()
            written = appended.length
          } else if (op.op === 'synced') {
            await log.synced()
            synced = written = appended.length
          } else {
            await log.checkpoint(Math.max(0, appended.length - op.back), appended.length)
          }
        }
        const stats = log.stats()
        const activeSize = statSync(join(dir, stats.activeSegment)).size
        const synced0 = stats.syncedOffsets[stats.activeSegment] ?? 0
        const cuts = { ...stats.syncedOffsets, [stats.activeSegment]: synced0 + (extra % (activeSize - synced0 + 1)) }
        for (const [copy, mustHave] of [
          [copyLog(dir, cuts), synced],
          [copyLog(dir), written],
        ] as const) {
          const { log: reopened, recovered } = await DirtyLog.open({ dir: copy })
          const expected = appended.filter((r) => r.version > recovered.lowWater)
          assert.deepEqual(recovered.records, expected.slice(0, recovered.records.length))
          const acknowledged = appended.slice(0, mustHave).filter((r) => r.version > recovered.lowWater).length
          assert.ok(recovered.records.length >= acknowledged, `${recovered.records.length} recovered < ${acknowledged} acknowledged`)
          await reopened.close()
        }
        await log.close()
      }),
      { numRuns: 40 },
    )
  })
})

describe('group commit', () => {
  it('many appends in one turn share ONE write; written() callers all resolve', async () => {
    const { log } = await DirtyLog.open({ dir: tempDir() })
    await log.synced()
    const before = log.stats()
    const waits: Array<Promise<void>> = []
    for (const record of makeRecords(200)) {
      log.append(record)
      waits.push(log.written())
    }
    assert.equal(log.stats().writes, before.writes, 'nothing written before the turn ends')
    await Promise.all(waits)
    assert.equal(log.stats().writes, before.writes + 1)
    assert.equal(log.stats().fsyncs, before.fsyncs, 'written() does not fsync')
    await log.close()
  })

  it('many synced() callers in one turn share ONE fdatasync', async () => {
    const { log } = await DirtyLog.open({ dir: tempDir() })
    await log.synced()
    const before = log.stats()
    const waits = makeRecords(200).map((record) => {
      log.append(record)
      return log.synced()
    })
    await Promise.all(waits)
    assert.equal(log.stats().fsyncs, before.fsyncs + 1)
    assert.equal(log.stats().writes, before.writes + 1)
    await log.close()
  })

  it('waiters arriving while an fsync runs queue for exactly one next fsync', async () => {
    const { log } = await DirtyLog.open({ dir: tempDir() })
    await log.synced()
    const base = log.stats().fsyncs
    const records = makeRecords(101)
    log.append(records[0]!)
    const first = log.synced()
    await log.written() // the write is done and the fdatasync round has started
    const later = records.slice(1).map((record) => {
      log.append(record)
      return log.synced()
    })
    await Promise.all([first, ...later])
    assert.equal(log.stats().fsyncs, base + 2)
    await log.close()
  })

  it('concurrent async writers (256) are grouped: far fewer writes and fsyncs than records', async () => {
    const { log } = await DirtyLog.open({ dir: tempDir() })
    await log.synced()
    const base = log.stats()
    let version = 0
    const writer = async (id: number) => {
      for (let i = 0; i < 8; i++) {
        log.append({ kind: 'set', key: `w${id}`, version: ++version, encoded: String(i) })
        await log.synced()
      }
    }
    await Promise.all(Array.from({ length: 256 }, (_, id) => writer(id)))
    const stats = log.stats()
    assert.equal(stats.appendedRecords, 2048)
    assert.ok(stats.fsyncs - base.fsyncs <= 16, `${stats.fsyncs - base.fsyncs} fsyncs for 2048 records`)
    assert.ok(stats.writes - base.writes <= 16, `${stats.writes - base.writes} writes for 2048 records`)
    await log.close()
  })

  it('a buffer past writeThresholdBytes is written early, within the turn', async () => {
    const { log } = await DirtyLog.open({ dir: tempDir(), writeThresholdBytes: 1000 })
    await log.synced()
    const before = log.stats().writes
    for (const record of makeRecords(100)) log.append(record)
    assert.ok(log.stats().writes - before >= 3, 'several early writes before the turn ended')
    await log.close()
  })
})

describe('background sync (syncIntervalMs) with a fake clock', () => {
  it('fsyncs written records each interval, and only when there is something to sync', async () => {
    const clock = new FakeClock()
    const { log } = await DirtyLog.open({ dir: tempDir(), syncIntervalMs: 1000, clock })
    await log.synced()
    const base = log.stats().fsyncs
    for (const record of makeRecords(10)) log.append(record)
    await log.written()
    await clock.advance(999)
    assert.equal(log.stats().fsyncs, base)
    await clock.advance(1)
    await until(() => log.stats().fsyncs === base + 1)
    assert.equal(log.stats().lastSyncedOffset, log.stats().bytes)
    await clock.advance(5000)
    await settle()
    assert.equal(log.stats().fsyncs, base + 1, 'idle intervals do not fsync')
    await log.close()
    assert.equal(clock.pendingTimers, 0, 'close stops the timer')
  })
})

describe('I/O failure', () => {
  it('a failed write is sticky: written/synced reject, append throws LogFailedError, close cleans up and reports it', async () => {
    const dir = tempDir()
    const events: LogEvent[] = []
    const { log } = await DirtyLog.open({ dir, onEvent: (e) => events.push(e) })
    const record: LogRecord = { kind: 'set', key: 'k', version: 1, encoded: '1' }
    const active = (log as unknown as { active: { writeOut(): boolean } }).active
    active.writeOut = () => {
      throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' })
    }
    log.append(record)
    const synced = log.synced()
    await assert.rejects(log.written(), LogFailedError)
    await assert.rejects(synced, (e: unknown) => e instanceof LogFailedError && e.code === 'E_LOG_FAILED' && /EIO/.test(e.message))
    assert.throws(() => log.append({ ...record, version: 2 }), LogFailedError)
    assert.deepEqual(
      events.map((e) => e.type),
      ['failed'],
    )
    await assert.rejects(log.close(), LogFailedError)
    assert.equal(existsSync(join(dir, 'LOCK')), false, 'the lock is released even so')
  })

  it('a write failing past the size threshold makes that append throw at once', async () => {
    const { log } = await DirtyLog.open({ dir: tempDir(), writeThresholdBytes: 64 })
    const active = (log as unknown as { active: { writeOut(): boolean } }).active
    active.writeOut = () => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
    }
    assert.throws(() => log.append({ kind: 'set', key: 'k', version: 1, encoded: JSON.stringify('x'.repeat(100)) }), /ENOSPC/)
    await assert.rejects(log.close(), LogFailedError)
  })

  it('a checkpoint asked for once close() has begun is refused; close waits for one already running', async () => {
    const dir = tempDir()
    const { log } = await DirtyLog.open({ dir })
    for (const record of makeRecords(5)) log.append(record)
    const running = log.checkpoint(5, 5)
    const closing = log.close()
    await assert.rejects(log.checkpoint(5, 5), /closed or closing/)
    await Promise.all([running, closing])
    const { log: again, recovered } = await DirtyLog.open({ dir })
    assert.equal(recovered.lowWater, 5)
    await again.close()
  })
})
