/**
 * `WriteThroughs.lost`: the tier holds a key below some waiters' versions (a failover lost their
 * entry). A waiter the store holds resolves (a delete: the store has no row); one it does not hold
 * rejects; one at or below what the tier holds keeps waiting for its flush.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { WriteLostError } from '../../src/errors.js'
import { WriteThroughs } from '../../src/flush/write-throughs.js'

function outcome(write: Promise<void>): { state: string } {
  const seen = { state: 'pending' }
  write.then(
    () => (seen.state = 'resolved'),
    (error: unknown) => (seen.state = error instanceof WriteLostError ? `lost ${error.version}` : String(error)),
  )
  return seen
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('WriteThroughs.lost', () => {
  it('resolves what the store holds, rejects what neither holds, keeps what the tier still holds', async () => {
    const waiters = new WriteThroughs()
    const stored = outcome(waiters.wait('k', 5))
    const held = outcome(waiters.wait('k', 9))
    const gone = outcome(waiters.wait('k', 12))
    assert.equal(waiters.waitsAbove('k', 10), true)
    waiters.lost('k', 10, 8, (v) => new WriteLostError('k', v)) // the tier holds 10 (dirty), the store 8
    await tick()
    assert.deepEqual([stored.state, held.state, gone.state], ['resolved', 'pending', 'lost 12'])
    assert.equal(waiters.waitsAbove('k', 10), false)
    assert.equal(waiters.urgent.has('k'), true, 'the waiter at 9 still waits for the flush of 10')
    waiters.applied('k', 10)
    await tick()
    assert.equal(held.state, 'resolved')
    assert.equal(waiters.urgent.size, 0)
  })

  it('a delete is held when the store has no row; a set is not', async () => {
    const waiters = new WriteThroughs()
    const deleted = outcome(waiters.wait('d', 3, true))
    const set = outcome(waiters.wait('s', 3))
    waiters.lost('d', 0, 0, (v) => new WriteLostError('d', v))
    waiters.lost('s', 0, 0, (v) => new WriteLostError('s', v))
    await tick()
    assert.deepEqual([deleted.state, set.state], ['resolved', 'lost 3'])
  })

  it('with a store that tells tombstones (Store.versions): a delete is held only at its tombstone, never by a missing row', async () => {
    const waiters = new WriteThroughs()
    const tombstoned = outcome(waiters.wait('t', 3, true))
    const missing = outcome(waiters.wait('m', 3, true))
    const older = outcome(waiters.wait('o', 7, true))
    waiters.lost('t', 0, 4, (v) => new WriteLostError('t', v), false) // a tombstone at 4 holds the delete at 3
    waiters.lost('m', 0, 0, (v) => new WriteLostError('m', v), false) // no row: an older set may still land
    waiters.lost('o', 0, 5, (v) => new WriteLostError('o', v), false) // the store is at 5, below the delete at 7
    await tick()
    assert.deepEqual([tombstoned.state, missing.state, older.state], ['resolved', 'lost 3', 'lost 7'])
  })
})
