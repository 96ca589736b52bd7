/**
 * Conformance cases for a store on your own table ("mapped"): the suite's leaderboard, keys
 * `player:<n>` onto an integer key column, values `{ score }` onto a score column that refuses a
 * negative score (a `CHECK (score >= 0)`), with a version column; and, given a counter mapping
 * onto the same table, merge ops on the score column.
 */
import assert from 'node:assert/strict'
import type { BatchResult, LoadedEntry, Store } from '../contracts/store.js'
import { deleteOp, loadedValue, mergeOp, setOp } from './conformance-ops.js'
import type { CaseOf } from './conformance-runner.js'

/** A fresh store on an empty leaderboard table of your own, for one case. */
export interface MappedStoreUnderTest {
  readonly store: Store
  readonly cleanup?: () => Promise<void>
  /** The table's rows as `{ player_id, score }` ordered by `player_id`: checks what landed in the table. */
  readonly rows?: () => Promise<readonly unknown[]>
  /** Further checks on the error a refused batch raised (its class, the driver's code). */
  readonly refused?: (error: Error) => void
}

/**
 * Makes a store that maps `player:<n>` keys onto a table such as
 * `(player_id integer PRIMARY KEY, score integer NOT NULL CHECK (score >= 0), version bigint NOT NULL, updated_at timestamp)`,
 * values `{ score }` onto `score`, and reads them back as `{ score }`. A key that is not `player:<n>`
 * cannot be mapped.
 */
export type MappedStoreFactory = () => Promise<MappedStoreUnderTest>

export interface MappedCaseOptions {
  readonly fenced: boolean
  readonly superseded: boolean
  readonly skip: string | undefined
}

export function describeMapped(test: CaseOf<MappedStoreUnderTest>, options: MappedCaseOptions): void {
  const { skip } = options
  const expect = (fenced: number, superseded: { index: number; version: number }[]) => ({
    failures: [],
    ...(options.fenced ? { fenced } : {}),
    ...(options.superseded ? { superseded } : {}),
  })

  test(
    'mapped table: maps player:<n> onto its rows, fenced; a delete removes the row only when newer; an unmappable key fails alone',
    async ({ store, rows }) => {
      assert.deepEqual(normalized(await store.writeBatch([setOp('player:1', 5, { score: 10 }), setOp('player:2', 6, { score: 20 })]), options), expect(0, []))
      assert.deepEqual(normalized(await store.writeBatch([setOp('player:1', 4, { score: 99 }), setOp('player:2', 7, { score: 21 })]), options), expect(1, [{ index: 0, version: 5 }]))
      const loaded = await store.load(['player:1', 'player:2', 'player:3', 'nonsense'])
      assert.deepEqual(entries(loaded), [
        ['player:1', 5, { score: 10 }],
        ['player:2', 7, { score: 21 }],
      ])
      const bad = await store.writeBatch([deleteOp('player:1', 8), deleteOp('player:2', 3), setOp('bob', 9, { score: 1 })])
      assert.deepEqual(
        (bad?.failures ?? []).map((failure) => failure.index),
        [2],
        'the unmappable op, and only it, fails',
      )
      assert.equal((bad?.failures?.[0]?.error as { retryable?: unknown } | undefined)?.retryable, false, 'an unmappable key is not worth retrying')
      assert.deepEqual(entries(await store.load(['player:1', 'player:2'])), [['player:2', 7, { score: 21 }]])
      if (rows !== undefined) assert.deepEqual(await rows(), [{ player_id: 2, score: 21 }])
    },
    { skip },
  )

  test(
    'mapped table: a value the table refuses (a CHECK violation) fails with retryable false; a batch that throws applied nothing',
    async ({ store, refused }) => {
      const batch = [setOp('player:1', 1, { score: 5 }), setOp('player:2', 2, { score: -1 })]
      const outcome = await store.writeBatch(batch).then(
        (result) => ({ result }),
        (error: unknown) => ({ error }),
      )
      if ('error' in outcome) {
        const { error } = outcome
        assert.ok(error instanceof Error, 'writeBatch threw an Error')
        assert.equal((error as { retryable?: unknown }).retryable, false, `marked retryable: false (${error.message})`)
        refused?.(error)
        assert.equal((await store.load(['player:1'])).size, 0, 'nothing of the failed batch applied')
      } else {
        assert.deepEqual(
          (outcome.result?.failures ?? []).map((failure) => failure.index),
          [1],
          'the refused op, and only it, fails',
        )
        assert.equal((outcome.result?.failures?.[0]?.error as { retryable?: unknown } | undefined)?.retryable, false)
        assert.deepEqual(entries(await store.load(['player:1', 'player:2'])), [['player:1', 1, { score: 5 }]])
      }
    },
    { skip },
  )
}

/** A batch result with empty parts spelled out, and only the parts the store claims to report. */
function normalized(result: BatchResult | void, options: MappedCaseOptions): object {
  return {
    failures: [...(result?.failures ?? [])],
    ...(options.fenced ? { fenced: result?.fenced } : {}),
    ...(options.superseded ? { superseded: [...(result?.superseded ?? [])].map(({ index, version }) => ({ index, version })) } : {}),
  }
}

/** The loaded entries as [key, version, value], by key. */
function entries(loaded: Map<string, LoadedEntry>): [string, number, unknown][] {
  return [...loaded.entries()].map(([key, entry]): [string, number, unknown] => [key, entry.version, loadedValue(entry)]).sort(([a], [b]) => (a < b ? -1 : 1))
}

/**
 * Makes a store on the same leaderboard table as `MappedStoreFactory`, whose mapping names `score`
 * as the counter column (`counter: 'score'` on the SQL stores): a key's value is its score, a
 * number, and merge ops add to, raise and lower the column.
 */
export type MappedCounterStoreFactory = () => Promise<MappedStoreUnderTest>

export function describeMappedCounter(test: CaseOf<MappedStoreUnderTest>, options: MappedCaseOptions): void {
  test(
    'mapped counter column: merge ops add to, raise and lower it, a missing row starts from the operand, fenced like any op, and load gives the number',
    async ({ store, rows }) => {
      const kinds = (['max', 'min'] as const).filter((kind) => (store.merges ?? []).includes(kind))
      await expectFenced(store.writeBatch([mergeOp('player:1', 1, 'sum', 5), setOp('player:2', 2, 10)]), 0, options)
      const second = [mergeOp('player:1', 3, 'sum', 3), ...kinds.map((kind, i) => mergeOp('player:2', 4 + i, kind, kind === 'max' ? 7 : 4)), mergeOp('player:1', 6, 'sum', 2)]
      await expectFenced(store.writeBatch(second), 0, options)
      const expected2 = kinds.includes('min') ? 4 : 10
      const version2 = kinds.length === 0 ? 2 : 3 + kinds.length
      assert.deepEqual(entries(await store.load(['player:1', 'player:2'])), [
        ['player:1', 6, 10],
        ['player:2', version2, expected2],
      ])
      const stale = await store.writeBatch([mergeOp('player:1', 2, 'sum', 100)])
      await expectFenced(Promise.resolve(stale), 1, options)
      if (options.superseded)
        assert.deepEqual(
          (stale?.superseded ?? []).map(({ index, version }) => ({ index, version })),
          [{ index: 0, version: 6 }],
        )
      await expectFenced(store.writeBatch(second), second.length, options)
      await store.writeBatch([deleteOp('player:1', 7)])
      await expectFenced(store.writeBatch([mergeOp('player:1', 8, 'sum', 4)]), 0, options)
      assert.deepEqual(entries(await store.load(['player:1', 'player:2'])), [
        ['player:1', 8, 4],
        ['player:2', version2, expected2],
      ])
      if (rows !== undefined)
        assert.deepEqual(await rows(), [
          { player_id: 1, score: 4 },
          { player_id: 2, score: expected2 },
        ])
    },
    { skip: options.skip, merges: ['sum'] },
  )
}

/** Awaits a batch: no failures, and the fenced count where the store reports one. */
async function expectFenced(pending: Promise<BatchResult | void>, fenced: number, options: MappedCaseOptions): Promise<void> {
  const result = await pending
  assert.deepEqual(result?.failures ?? [], [], 'valid ops must not fail')
  if (options.fenced) assert.equal(result?.fenced, fenced, 'fenced')
}
