// The dirty log's merge and seal records: they round-trip, torn ones are cut like any record, and
// segments holding them are format 2 (an older release refuses them as a newer format), while a
// log without merges keeps writing format 1, which older releases read.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { describe, it } from 'node:test'
import { DirtyLog } from '../../src/log/dirty-log.js'
import { checkSegmentHeader } from '../../src/log/record.js'
import type { LogRecord } from '../../src/log/types.js'
import { copyLog, makeRecords, recordOffsets, segmentPaths, tempDir, writeLog } from './log-helpers.js'

const mixed: LogRecord[] = [
  { kind: 'set', key: 'a', version: 1, encoded: '5' },
  { kind: 'merge', key: 'a', version: 2, merge: 'sum', operand: 3, encoded: '8' },
  { kind: 'merge', key: 'κ', version: 3, merge: 'max', operand: -0.5, encoded: '-0.5' },
  { kind: 'seal', key: 'a', version: 4, sealed: 2, encoded: null },
  { kind: 'merge', key: 'b', version: 5, merge: 'min', operand: 1e300, encoded: '1e+300' },
  { kind: 'delete', key: 'a', version: 6, encoded: null },
  { kind: 'merge', key: 'a', version: 7, merge: 'sum', operand: -2, encoded: '-2' },
]

function formatOf(path: string): number | undefined {
  const header = checkSegmentHeader(readFileSync(path))
  return header.kind === 'valid' ? header.format : undefined
}

describe('merge and seal records', () => {
  it('round-trip with their kind, operand, value and sealed version', async () => {
    const dir = tempDir()
    await writeLog(dir, mixed)
    const { log, recovered } = await DirtyLog.open({ dir })
    assert.deepEqual(recovered.records, mixed)
    assert.equal(recovered.highestVersion, 7)
    await log.close()
  })

  it('make their segment format 2, while a log of sets and deletes stays format 1', async () => {
    const plain = tempDir()
    await writeLog(plain, makeRecords(20))
    assert.deepEqual(segmentPaths(plain).map(formatOf), [1])
    const merged = tempDir()
    await writeLog(merged, mixed)
    assert.deepEqual(segmentPaths(merged).map(formatOf), [2], 'the header was still buffered: rewritten in place')
  })

  it('start a format-2 segment when the active one already reached the file as format 1', async () => {
    const dir = tempDir()
    const { log } = await DirtyLog.open({ dir })
    log.append({ kind: 'set', key: 'a', version: 1, encoded: '1' })
    await log.written()
    log.append({ kind: 'merge', key: 'a', version: 2, merge: 'sum', operand: 1, encoded: '2' })
    log.append({ kind: 'set', key: 'b', version: 3, encoded: '1' })
    await log.synced()
    await log.close()
    assert.deepEqual(segmentPaths(dir).map(formatOf), [1, 2])
    const reopened = await DirtyLog.open({ dir })
    assert.deepEqual(
      reopened.recovered.records.map((r) => r.version),
      [1, 2, 3],
    )
    await reopened.log.close()
  })

  it('are cut back like any record when torn at any byte', async () => {
    const source = tempDir()
    await writeLog(source, mixed)
    const [path] = segmentPaths(source)
    assert.ok(path !== undefined)
    const offsets = recordOffsets(path)
    for (let cut = offsets[1] as number; cut < (offsets.at(-1) as number); cut++) {
      const intact = offsets.filter((o, i) => i > 0 && o <= cut).length
      const { log, recovered } = await DirtyLog.open({ dir: copyLog(source, { [basename(path)]: cut }) })
      assert.deepEqual(recovered.records, mixed.slice(0, intact), `cut at ${cut}`)
      await log.close()
    }
  })

  it('are refused with a TypeError naming the bad field', async () => {
    const { log } = await DirtyLog.open({ dir: tempDir() })
    log.append({ kind: 'set', key: 'a', version: 5, encoded: '1' })
    assert.throws(() => log.append({ kind: 'merge', key: 'a', version: 6, merge: 'sum', operand: Number.NaN, encoded: '1' }), /record\.operand/)
    assert.throws(() => log.append({ kind: 'merge', key: 'a', version: 6, merge: 'avg' as 'sum', operand: 1, encoded: '1' }), /record\.merge/)
    assert.throws(() => log.append({ kind: 'merge', key: 'a', version: 6, merge: 'sum', operand: 1, encoded: null as unknown as string }), /record\.encoded/)
    assert.throws(() => log.append({ kind: 'seal', key: 'a', version: 6, sealed: 6, encoded: null }), /record\.sealed/)
    await log.close()
  })
})
