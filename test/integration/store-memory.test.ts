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
    assert.deepEqual(
      await store.versions(['a', 'b', 'zzz']),
      new Map([
        ['a', 2],
        ['b', 3],
      ]),
      'tombstones included, absent keys left out',
    )
    assert.equal(await store.highestVersion(), 3)
  })

  it('reports a fenced op as superseded only when the batch changed nothing of its key', async () => {
    const store = new MemoryStore()
    await store.writeBatch([setOp('k', 3, 'k3'), setOp('j', 9, 'j9')])
    // k@4 is fenced by k@5 of the same batch (which applied): not superseded. j@2 is fenced by the held j@9.
    assert.deepEqual(await store.writeBatch([setOp('k', 5, 'k5'), setOp('k', 4, 'k4'), setOp('j', 2, 'j2')]), { fenced: 2, superseded: [{ index: 2, version: 9 }] })
    // Fenced by the held row, then the key applied later in the batch: not superseded either.
    assert.deepEqual(await store.writeBatch([setOp('k', 1, 'k1'), setOp('k', 6, 'k6')]), { fenced: 1 })
    assert.equal(store.versionOf('k'), 6)
  })
})

describe('MemoryStore merge ops', () => {
  const merge = (key: string, version: number, kind: 'sum' | 'max' | 'min', operand: number) => ({ kind: 'merge', key, version, merge: kind, operand }) as const

  it('lists sum, max and min, and applies them fenced, from the operand on a missing or deleted row', async () => {
    const store = new MemoryStore()
    assert.deepEqual(store.merges, ['sum', 'max', 'min'])
    await store.writeBatch([merge('n', 1, 'sum', 5), setOp('m', 2, 10), deleteOp('d', 3)])
    await store.writeBatch([merge('n', 4, 'sum', 2), merge('m', 5, 'max', 7), merge('d', 6, 'min', -3), merge('x', 7, 'max', 4)])
    assert.deepEqual(
      store.snapshot(),
      new Map<string, unknown>([
        ['n', 7],
        ['m', 10],
        ['d', -3],
        ['x', 4],
      ]),
    )
    const redelivered = await store.writeBatch([merge('n', 4, 'sum', 2), merge('n', 3, 'sum', 100)])
    assert.equal(redelivered.fenced, 2, 'a redelivered (same version) or older sum is fenced: never added twice')
    assert.equal(store.snapshot().get('n'), 7)
    assert.equal(store.versionOf('n'), 4)
  })

  it('applies several merge ops of one key in one batch in order, each fenced on its own', async () => {
    const store = new MemoryStore()
    await store.writeBatch([merge('n', 2, 'sum', 1)])
    await store.writeBatch([merge('n', 1, 'sum', 10), merge('n', 3, 'sum', 2), merge('n', 4, 'sum', 3)])
    assert.equal(store.snapshot().get('n'), 6)
    assert.equal(store.versionOf('n'), 4)
  })

  it('fails a merge into a value that is not a number alone, permanently, and applies the rest', async () => {
    const store = new MemoryStore()
    await store.writeBatch([setOp('s', 1, 'text')])
    const result = await store.writeBatch([merge('s', 2, 'sum', 1), merge('n', 3, 'sum', 1)])
    assert.equal(result.failures?.length, 1)
    assert.equal(result.failures?.[0]?.index, 0)
    assert.equal((result.failures?.[0]?.error as { retryable?: boolean }).retryable, false)
    assert.equal((result.failures?.[0]?.error as { code?: string }).code, 'E_STORE_NOT_A_NUMBER')
    assert.deepEqual(
      store.snapshot(),
      new Map<string, unknown>([
        ['s', 'text'],
        ['n', 1],
      ]),
    )
    assert.equal(store.versionOf('s'), 1)
  })
})
