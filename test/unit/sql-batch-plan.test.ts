// The SQL core's batch plan: duplicate keys become rounds (a key's ops from its last set or delete
// on, in version order, one per round), and the read-back after a batch sorts untouched rows into
// superseded ops and merge ops refused because the stored value is not a number.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { StoreOp } from '../../src/contracts/store.js'
import { rounds, settle } from '../../src/stores/sql/batch-plan.js'
import { deleteOp, mergeOp, setOp } from '../../src/testing/index.js'

describe('SQL batch plan: rounds', () => {
  it('one round of every op when no key repeats, and none for an empty batch', () => {
    assert.deepEqual(rounds([setOp('a', 1, 1), mergeOp('b', 2, 'sum', 1), deleteOp('c', 3)]), [[0, 1, 2]])
    assert.deepEqual(rounds([]), [])
  })

  it('sets and deletes of one key collapse to the highest version (the last on a tie)', () => {
    assert.deepEqual(rounds([setOp('a', 1, 1), setOp('b', 2, 2), deleteOp('a', 3), setOp('a', 3, 'tie')]), [[3, 1]])
  })

  it("a key's merge ops after its last set or delete are kept, in version order, the k-th in round k", () => {
    const ops: StoreOp[] = [
      mergeOp('a', 1, 'sum', 1), // before a's set: overwritten by it
      setOp('a', 2, 10),
      mergeOp('b', 3, 'sum', 1),
      mergeOp('a', 5, 'sum', 2),
      mergeOp('b', 4, 'max', 7), // out of order: still applied after b's version 3
      mergeOp('a', 6, 'sum', 3),
      setOp('c', 7, 'x'),
    ]
    assert.deepEqual(rounds(ops), [[1, 2, 6], [3, 4], [5]])
  })
})

describe('SQL batch plan: settle', () => {
  const ops: StoreOp[] = [
    mergeOp('fenced', 3, 'sum', 1),
    mergeOp('fenced', 4, 'sum', 1),
    mergeOp('text', 5, 'sum', 1),
    setOp('mixed', 6, 'text'),
    mergeOp('mixed', 7, 'min', 1),
    mergeOp('caught-up', 8, 'sum', 1),
    mergeOp('caught-up', 9, 'sum', 1),
    mergeOp('gone', 10, 'sum', 1),
  ]
  const suspects = new Set(['fenced', 'text', 'mixed', 'caught-up', 'gone'])
  const stored = new Map([
    ['fenced', 12],
    ['text', 2],
    ['mixed', 6],
    ['caught-up', 9],
  ])

  it('every op of a key held above the batch is superseded; a merge newer than the stored row was refused as not a number', () => {
    assert.deepEqual(settle(ops, suspects, stored), {
      superseded: [
        { index: 0, version: 12 },
        { index: 1, version: 12 },
      ],
      notNumbers: [2, 4],
    })
  })

  it('keys that were not suspects are left alone, whatever the store holds', () => {
    assert.deepEqual(settle(ops, new Set(), stored), { superseded: [], notNumbers: [] })
  })
})
