import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Clock } from '../../src/contracts/clock.js'
import { strictJson } from '../../src/core/json-codec.js'
import { CoalescingBacklog } from '../../src/tier/embedded/backlog.js'
import { CoarseClock } from '../../src/tier/embedded/coarse-clock.js'
import { Entry } from '../../src/tier/embedded/entry.js'

describe('CoalescingBacklog, merges held behind a merge letter', () => {
  it('a write of the whole value frees a held entry at once: the low-water mark and oldest age count it again', () => {
    const clock = new CoarseClock({ now: () => 1_000 } as unknown as Clock)
    const entries = new Map<string, Entry>()
    const backlog = new CoalescingBacklog(
      strictJson,
      clock,
      (key) => entries.get(key),
      'key',
      (key) => key === 'k',
    )
    const entry = new Entry('k', '1', 10)
    entries.set('k', entry)
    entry.merge = 'sum'
    backlog.recordMerge(entry, entry.size, 'sum', 1)
    assert.deepEqual(backlog.take(10, new Set()), [], 'the merge is held')
    assert.equal(backlog.lowestVersion(), undefined, 'a held entry is left out of the low-water mark')
    assert.equal(backlog.lowestHeld(), 10)
    // A set of the key: its value goes as a whole, never held.
    entry.wholeValue()
    const delta = entry.rewrite('7', 11)
    backlog.recordWhole(entry, delta)
    assert.equal(backlog.lowestHeld(), undefined)
    assert.equal(backlog.lowestVersion(), 10, 'counted again, from its first unflushed write')
    assert.equal(backlog.oldestSince(), 1_000)
    const ops = backlog.take(10, new Set())
    assert.deepEqual(
      ops.map((op) => [op.kind, op.key, op.version]),
      [['set', 'k', 11]],
    )
  })
})
