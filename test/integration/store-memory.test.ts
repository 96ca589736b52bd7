// The Store conformance suite on MemoryStore, plus its counters and snapshot.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemoryStore } from '../../src/stores/memory-store.js'
import { deleteOp, describeStoreConformance, setOp } from '../../src/testing/index.js'

describeStoreConformance({ describe, it }, 'MemoryStore', async () => ({ store: new MemoryStore() }))

describe('MemoryStore', () => {
  it('counts batches, ops, applied and fenced, and snapshots live values', async () => {
    const store = new MemoryStore()
    assert.deepEqual(await store.writeBatch([setOp('a', 2, 'a2'), setOp('b', 1, 'b1')]), { fenced: 0 })
    assert.deepEqual(await store.writeBatch([setOp('a', 1, 'a1'), deleteOp('b', 3), setOp('a', 2, 'again')]), { fenced: 2, superseded: [{ index: 0, version: 2 }] })
    assert.deepEqual(store.counters, { batches: 2, ops: 5, applied: 3, fenced: 2 })
    assert.deepEqual(store.snapshot(), new Map([['a', 'a2']]))
    assert.equal(store.versionOf('b'), 3)
    assert.equal(store.versionOf('zzz'), undefined)
    assert.equal(await store.highestVersion(), 3)
  })
})
