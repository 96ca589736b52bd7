/**
 * The error half of the Store contract: data the store refuses fails with `retryable: false` (thrown
 * for the batch, or as that op's `failures` entry with the others applied), `fenced` counts the ops
 * skipped for an older or equal version, and `close()` may be called again, in sequence or at once.
 */
import assert from 'node:assert/strict'
import type { BatchResult, StoreOp } from '../contracts/store.js'
import { assertEntry, deleteOp, setOp, write } from './conformance-ops.js'
import type { Case } from './conformance-runner.js'

export interface ErrorCaseOptions {
  readonly poison?: ((version: number) => StoreOp) | undefined
  readonly fenced?: boolean | undefined
}

export function describeErrors(test: Case, options: ErrorCaseOptions): void {
  const { poison } = options
  const noPoison = poison === undefined ? 'no poison op was given (options.poison)' : undefined
  test(
    'data the store refuses fails with retryable false, and the store goes on taking writes',
    async (store) => {
      const batch = [setOp('poison:before', 1, 'b'), poison!(2), setOp('poison:after', 3, 'a')]
      const outcome = await store.writeBatch(batch).then(
        (result) => ({ result }),
        (error: unknown) => ({ error }),
      )
      if ('error' in outcome) {
        assertPermanent(outcome.error, 'the error writeBatch threw')
      } else {
        const failures = outcome.result?.failures ?? []
        assert.deepEqual(
          failures.map((failure) => failure.index),
          [1],
          'the refused op, and only it, is in failures',
        )
        assertPermanent(failures[0]?.error, 'the failure of the refused op')
        const loaded = await store.load(['poison:before', 'poison:after'])
        assertEntry(loaded, 'poison:before', 1, 'b')
        assertEntry(loaded, 'poison:after', 3, 'a')
      }
      await write(store, [setOp('poison:later', 4, 'fine')])
      assertEntry(await store.load(['poison:later']), 'poison:later', 4, 'fine')
    },
    { skip: noPoison },
  )

  test(
    'fenced counts the ops skipped for an older or equal version, deletes included',
    async (store) => {
      assert.equal(fencedOf(await write(store, [setOp('fc:a', 2, 'a'), setOp('fc:b', 2, 'b'), setOp('fc:c', 2, 'c')])), 0)
      const second = [setOp('fc:a', 3, 'a3'), setOp('fc:b', 1, 'old'), deleteOp('fc:c', 2), setOp('fc:d', 1, 'd')]
      assert.equal(fencedOf(await write(store, second)), 2)
      assert.equal(fencedOf(await write(store, second)), 4, 'a redelivered batch is fenced whole')
    },
    { skip: options.fenced === false ? 'the options say writeBatch reports no fenced counts' : undefined },
  )

  test(
    'close() may be called again: twice at once, then once more',
    async (store) => {
      await write(store, [setOp('close:a', 1, 'a')])
      await Promise.all([store.close!(), store.close!()])
      await store.close!()
    },
    { needs: 'close' },
  )
}

/** The `fenced` count of a result, which must report one. */
function fencedOf(result: BatchResult | void): number {
  assert.equal(typeof result?.fenced, 'number', 'writeBatch reports fenced (pass { fenced: false } for a store that cannot count)')
  return result!.fenced!
}

function assertPermanent(error: unknown, what: string): void {
  assert.ok(error instanceof Error, `${what} is an Error`)
  assert.equal((error as { retryable?: unknown }).retryable, false, `${what} is marked retryable: false (${error.message})`)
}
