/**
 * The merge half of the Store contract (`StoreMergeOp`: `cache.increment`, `max`, `min`), run for
 * a store that lists the kind in its `merges` and reported as skipped otherwise: each kind combines
 * with the stored number and stores the op's version; a missing key or a tombstone starts from the
 * operand; merge ops are fenced like any op; and exactly once: a redelivered batch changes
 * nothing, several sums of one key in one batch apply in version order, each fenced on its own,
 * and a stored value that is not a number fails that op alone.
 */
import assert from 'node:assert/strict'
import type { BatchResult, MergeKind, Store, StoreOp } from '../contracts/store.js'
import { assertEntry, deleteOp, mergeOp, setOp, sortedSuperseded, write } from './conformance-ops.js'
import type { Case } from './conformance-runner.js'

export interface MergeCaseOptions {
  readonly superseded: boolean
  readonly fenced: boolean
}

/** Per kind: a start value, then [operand, expected stored value] steps at versions 2, 3, 4... */
const STEPS: Record<MergeKind, { start: number; steps: [number, number][] }> = {
  sum: {
    start: 10,
    steps: [
      [5, 15],
      [-20, -5],
      [0.25, -4.75],
      [0, -4.75],
    ],
  },
  max: {
    start: 10,
    steps: [
      [7, 10],
      [12, 12],
      [-1, 12],
      [12.5, 12.5],
    ],
  },
  min: {
    start: 10,
    steps: [
      [12, 10],
      [7, 7],
      [-1.5, -1.5],
      [3, -1.5],
    ],
  },
}

export function describeMerges(test: Case, options: MergeCaseOptions): void {
  for (const kind of ['sum', 'max', 'min'] as const) describeKind(test, kind, options)

  test(
    'merge ops are fenced by a newer stored version (a set or a tombstone), counted as fenced and reported superseded',
    async (store) => {
      const kinds = listed(store)
      await write(store, [...kinds.map((kind, i) => setOp(`mfence:${kind}`, 10 + i, 100)), ...kinds.map((kind, i) => deleteOp(`mfence:gone:${kind}`, 20 + i))])
      const stale = kinds.flatMap((kind, i) => [mergeOp(`mfence:${kind}`, 2 * i + 1, kind, 5), mergeOp(`mfence:gone:${kind}`, 2 * i + 2, kind, 5)])
      const result = await write(store, stale)
      assertFenced(result, stale.length, options, 'every stale merge op is fenced')
      if (options.superseded) {
        assert.deepEqual(
          sortedSuperseded(result),
          kinds.flatMap((_, i) => [
            { index: 2 * i, version: 10 + i },
            { index: 2 * i + 1, version: 20 + i },
          ]),
        )
      }
      const loaded = await store.load(kinds.flatMap((kind) => [`mfence:${kind}`, `mfence:gone:${kind}`]))
      kinds.forEach((kind, i) => assertEntry(loaded, `mfence:${kind}`, 10 + i, 100))
      assert.equal(loaded.size, kinds.length, 'a tombstone newer than a merge op keeps the key deleted')
    },
    { merges: ['sum'] },
  )

  test(
    'redelivering a batch of merge ops changes nothing (exactly once), and it is fenced, not superseded',
    async (store) => {
      const kinds = listed(store)
      const batch = kinds.flatMap((kind, i) => [mergeOp(`mredo:${kind}`, 2 * i + 1, kind, 5), mergeOp(`mredo:b:${kind}`, 2 * i + 2, kind, -2)])
      await write(store, batch)
      for (let i = 0; i < 2; i++) {
        const again = await write(store, batch)
        assertFenced(again, batch.length, options, 'a redelivered batch is fenced whole')
        if (options.superseded) assert.deepEqual(sortedSuperseded(again), [], 'a redelivery is not superseded')
      }
      const loaded = await store.load(batch.map((op) => op.key))
      kinds.forEach((kind, i) => {
        assertEntry(loaded, `mredo:${kind}`, 2 * i + 1, 5)
        assertEntry(loaded, `mredo:b:${kind}`, 2 * i + 2, -2)
      })
    },
    { merges: ['sum'] },
  )

  test(
    'several sum ops of one key in one batch apply in version order, each fenced on its own; redelivering the batch changes nothing',
    async (store) => {
      const batch = [mergeOp('msum:a', 1, 'sum', 1), mergeOp('msum:b', 2, 'sum', 10), mergeOp('msum:a', 3, 'sum', 2), mergeOp('msum:a', 4, 'sum', 4), mergeOp('msum:b', 5, 'sum', 20)]
      assertFenced(await write(store, batch), 0, options)
      assertFenced(await write(store, batch), batch.length, options, 'a redelivered batch is fenced whole')
      const loaded = await store.load(['msum:a', 'msum:b'])
      assertEntry(loaded, 'msum:a', 4, 7)
      assertEntry(loaded, 'msum:b', 5, 30)

      // A replay after a crash: the store holds the first two groups; the third applies, once.
      await write(store, [mergeOp('msum:c', 1, 'sum', 1), mergeOp('msum:c', 2, 'sum', 2)])
      const replay = await write(store, [mergeOp('msum:c', 1, 'sum', 1), mergeOp('msum:c', 2, 'sum', 2), mergeOp('msum:c', 3, 'sum', 4)])
      assertFenced(replay, 2, options, 'the two groups the store holds are fenced')
      if (options.superseded) assert.deepEqual(sortedSuperseded(replay), [], 'ops the batch itself brought up to date are not superseded')
      assertEntry(await store.load(['msum:c']), 'msum:c', 3, 7)
    },
    { merges: ['sum'] },
  )

  test(
    'sums after a set of the same key build on it; a set after sums replaces them; many keys across statements keep their order',
    async (store) => {
      await write(store, [setOp('mmix:a', 1, 100), mergeOp('mmix:a', 2, 'sum', 1), mergeOp('mmix:a', 3, 'sum', 2), mergeOp('mmix:b', 4, 'sum', 5), setOp('mmix:b', 5, 50)])
      await write(store, [deleteOp('mmix:c', 6), mergeOp('mmix:c', 7, 'sum', 3), mergeOp('mmix:c', 8, 'sum', 3)])
      const loaded = await store.load(['mmix:a', 'mmix:b', 'mmix:c'])
      assertEntry(loaded, 'mmix:a', 3, 103)
      assertEntry(loaded, 'mmix:b', 5, 50)
      assertEntry(loaded, 'mmix:c', 8, 6)

      const keys = Array.from({ length: 400 }, (_, i) => `mmany:${i}`)
      const many = [...keys.map((key, i) => mergeOp(key, 1 + i, 'sum', i)), ...keys.map((key, i) => mergeOp(key, 1000 + i, 'sum', 1))]
      await write(store, many)
      await write(store, many)
      const all = await store.load(keys)
      assert.equal(all.size, keys.length)
      keys.forEach((key, i) => assertEntry(all, key, 1000 + i, i + 1))
    },
    { merges: ['sum'] },
  )

  test(
    'a merge op on a stored value that is not a number fails alone, retryable false; the rest of the batch applies',
    async (store) => {
      const kinds = listed(store)
      await write(store, [setOp('mnan:text', 1, 'text'), setOp('mnan:object', 2, { n: 1 }), setOp('mnan:null', 3, null)])
      const batch: StoreOp[] = [
        mergeOp('mnan:ok', 4, 'sum', 1),
        mergeOp('mnan:text', 5, 'sum', 1),
        setOp('mnan:other', 6, 'x'),
        mergeOp('mnan:object', 7, kinds.at(-1) as MergeKind, 1),
        mergeOp('mnan:null', 8, 'sum', 1),
      ]
      const result = await store.writeBatch(batch)
      const failures = [...(result?.failures ?? [])].sort((a, b) => a.index - b.index)
      assert.deepEqual(
        failures.map((failure) => failure.index),
        [1, 3, 4],
        'the merge ops on values that are not numbers, and only they, fail',
      )
      for (const { error } of failures) {
        assert.equal((error as { retryable?: unknown }).retryable, false, `marked retryable: false (${error.message})`)
        const scope = (error as { scope?: unknown }).scope
        if (scope !== undefined) assert.equal(scope, 'op', 'scope op: it is about this data')
      }
      const loaded = await store.load(['mnan:ok', 'mnan:text', 'mnan:other', 'mnan:object', 'mnan:null'])
      assertEntry(loaded, 'mnan:ok', 4, 1)
      assertEntry(loaded, 'mnan:other', 6, 'x')
      assertEntry(loaded, 'mnan:text', 1, 'text')
      assertEntry(loaded, 'mnan:object', 2, { n: 1 })
      assertEntry(loaded, 'mnan:null', 3, null)
      // Fenced comes first: an op the store already holds is a redelivery, whatever the value.
      assertFenced(await write(store, [mergeOp('mnan:text', 1, 'sum', 1)]), 1, options)
      await write(store, [setOp('mnan:text', 9, 5), mergeOp('mnan:text', 10, 'sum', 1)])
      assertEntry(await store.load(['mnan:text']), 'mnan:text', 10, 6)
    },
    { merges: ['sum'] },
  )
}

function describeKind(test: Case, kind: MergeKind, options: MergeCaseOptions): void {
  const { start, steps } = STEPS[kind]
  test(
    `${kind}: combines the operand with the stored number and stores the op's version, in one batch per step`,
    async (store) => {
      await write(store, [setOp(`m${kind}:int`, 1, start), setOp(`m${kind}:frac`, 1, start + 0.5)])
      for (const [i, [operand, expected]] of steps.entries()) {
        const result = await write(store, [mergeOp(`m${kind}:int`, 2 + i, kind, operand), mergeOp(`m${kind}:frac`, 2 + i, kind, operand)])
        assertFenced(result, 0, options)
        const loaded = await store.load([`m${kind}:int`, `m${kind}:frac`])
        assertEntry(loaded, `m${kind}:int`, 2 + i, expected)
        assertEntry(
          loaded,
          `m${kind}:frac`,
          2 + i,
          STEPS[kind].steps.slice(0, i + 1).reduce((value, [n]) => combine(kind, value, n), start + 0.5),
        )
      }
    },
    { merges: [kind] },
  )

  test(
    `${kind}: a key without a row, or with only a tombstone, starts from the operand`,
    async (store) => {
      await write(store, [setOp(`m${kind}:gone`, 1, 1000), deleteOp(`m${kind}:gone`, 2)])
      await write(store, [mergeOp(`m${kind}:new`, 3, kind, 7), mergeOp(`m${kind}:gone`, 4, kind, -3)])
      const loaded = await store.load([`m${kind}:new`, `m${kind}:gone`])
      assertEntry(loaded, `m${kind}:new`, 3, 7)
      assertEntry(loaded, `m${kind}:gone`, 4, -3)
    },
    { merges: [kind] },
  )
}

function combine(kind: MergeKind, stored: number, operand: number): number {
  if (kind === 'sum') return stored + operand
  return kind === 'max' ? Math.max(stored, operand) : Math.min(stored, operand)
}

/** The kinds the store lists, `sum` first (a case that needs `sum` only runs when it is listed). */
function listed(store: Store): MergeKind[] {
  return (['sum', 'max', 'min'] as const).filter((kind) => (store.merges ?? []).includes(kind))
}

/** Checks the `fenced` count of a result, for a store that reports one. */
function assertFenced(result: BatchResult | void, expected: number, options: MergeCaseOptions, message?: string): void {
  if (options.fenced) assert.equal(result?.fenced, expected, message ?? 'fenced counts the merge ops skipped for an older or equal version')
}
