/**
 * The fault harness's checker (test/torture/checker.ts) on fabricated histories: it catches an
 * acknowledged write lost (its key's row holds a lower version, or none), a stale overwrite (the
 * audit saw a version go down), a row holding another value than its version's write, Redis
 * differing from the store, keys left dirty and hung writes; it counts loss at `memory` without missing a target,
 * and counts writes not confirmed apart from the acknowledged ones.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Durability } from '../../src/contracts/options.js'
import type { StoredRow } from '../helpers/audited-table.js'
import { check, promisesNoLoss, type FinalState } from '../torture/checker.js'
import { History } from '../torture/history.js'
import type { WriteRecord } from '../torture/protocol.js'

const LEVELS: Durability[] = ['memory', 'replicated', 'store']

function history(writes: ReadonlyArray<Partial<WriteRecord> & Pick<WriteRecord, 'level' | 'key' | 'version'>>): History {
  const h = new History(LEVELS)
  for (const w of writes) h.record({ value: `v${w.version}`, outcome: 'ok', ...w })
  return h
}

function row(version: number, value: string | null = `v${version}`): StoredRow {
  return { version, value, deleted: value === null }
}

function final(rows: Record<string, StoredRow>, extra: Partial<FinalState> = {}): FinalState {
  return { rows: new Map(Object.entries(rows)), audit: [], dirty: 0, ...extra }
}

const NO_FAULTS = new Set<never>()

describe('the fault harness checker', () => {
  it('passes a history the store holds, superseded writes included', () => {
    const h = history([
      { level: 'replicated', key: 0, version: 10 },
      { level: 'replicated', key: 0, version: 12 },
      { level: 'store', key: 1, version: 11 },
    ])
    const report = check(h, final({ 'replicated:0': row(12), 'store:1': row(11) }), NO_FAULTS)
    assert.equal(report.met, true, report.misses.join('; '))
    assert.deepEqual(
      report.levels.map((l) => [l.level, l.acked, l.lost]),
      [
        ['memory', 0, 0],
        ['replicated', 2, 0],
        ['store', 1, 0],
      ],
    )
  })

  it('catches an acknowledged write lost at replicated (row below it, or no row) and misses the target', () => {
    const h = history([
      { level: 'replicated', key: 0, version: 10 },
      { level: 'replicated', key: 0, version: 12 },
      { level: 'replicated', key: 2, version: 5 },
    ])
    const report = check(h, final({ 'replicated:0': row(10) }), NO_FAULTS)
    const replicated = report.levels.find((l) => l.level === 'replicated')
    assert.equal(replicated?.lost, 2)
    assert.equal(replicated?.lostKeys, 2)
    assert.equal(report.met, false)
    assert.match(report.misses.join('\n'), /replicated: 2 acknowledged write\(s\) lost on 2 key/)
  })

  it('counts loss at memory without missing a target, and writes not confirmed apart', () => {
    const h = history([
      { level: 'memory', key: 0, version: 20 },
      { level: 'replicated', key: 1, version: 30, outcome: 'not-confirmed' },
      { level: 'replicated', key: 1, version: 29 },
      { level: 'store', key: 0, version: 1, outcome: 'failed', code: 'E_STORE_UNAVAILABLE' },
    ])
    const report = check(h, final({ 'memory:0': row(19), 'replicated:1': row(29) }), new Set(['lagging-failover']))
    const [memory, replicated, store] = report.levels
    assert.equal(memory?.lost, 1)
    assert.equal(memory?.met, true)
    assert.equal(replicated?.lost, 0)
    assert.equal(replicated?.notConfirmed, 1)
    assert.equal(replicated?.notConfirmedLost, 1)
    assert.equal(store?.failed, 1)
    assert.equal(report.met, true, report.misses.join('; '))
  })

  it('catches a stale overwrite: a stored version that went down', () => {
    const h = history([{ level: 'store', key: 0, version: 9 }])
    const audit = [
      { key: 'store:0', oldVersion: 5, newVersion: 9 },
      { key: 'store:0', oldVersion: 9, newVersion: 12 },
      { key: 'store:0', oldVersion: 12, newVersion: 9 },
      { key: 'memory:0', oldVersion: 3, newVersion: 4 },
    ]
    const report = check(h, final({ 'store:0': row(9) }, { audit }), NO_FAULTS)
    assert.deepEqual(
      report.levels.map((l) => l.staleOverwrites),
      [0, 0, 1],
    )
    assert.equal(report.met, false)
    assert.match(report.misses.join('\n'), /store: 1 stale overwrite/)
  })

  it('catches a row holding another value than the write of its version, Redis differing from the store, and keys left dirty', () => {
    const h = history([
      { level: 'memory', key: 0, version: 3 },
      { level: 'memory', key: 1, version: 4 },
    ])
    const redis = new Map([
      ['memory:1', { encoded: '"v4"', version: 4 }],
      ['memory:2', { encoded: '"x"', version: 8 }],
    ])
    const report = check(h, final({ 'memory:0': row(3, 'not v3'), 'memory:1': row(4) }, { redis, dirty: 2 }), NO_FAULTS)
    const memory = report.levels[0]
    assert.equal(memory?.wrongValues, 1)
    assert.equal(memory?.redisMismatches, 1, 'memory:2 is in Redis, not in the store')
    assert.equal(report.dirty, 2)
    assert.equal(report.met, false)
    assert.equal(report.misses.length, 3)
  })

  it('catches a write that settled only when its cache was closed under it (hung)', () => {
    const h = history([{ level: 'store', key: 0, version: 3, outcome: 'failed', code: 'E_CACHE_CLOSED', hung: true }])
    const report = check(h, final({}), NO_FAULTS)
    assert.equal(report.levels.find((l) => l.level === 'store')?.hung, 1)
    assert.equal(report.met, false)
    assert.match(report.misses.join('\n'), /store: 1 write\(s\) never settled/)
  })

  it('promises: memory never, log unless the power was cut, disk and replicated and store always', () => {
    assert.equal(promisesNoLoss('memory', NO_FAULTS), false)
    assert.equal(promisesNoLoss('log', new Set(['kill-app'])), true)
    assert.equal(promisesNoLoss('log', new Set(['power-cut'])), false)
    for (const level of ['disk', 'replicated', 'store'] as const) assert.equal(promisesNoLoss(level, new Set(['power-cut', 'lagging-failover'])), true)
  })
})
