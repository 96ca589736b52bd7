/**
 * The conformance suite every Store must pass, built-in or third-party: round trips, tombstones,
 * fencing under redelivery and reordering of old batches, duplicate keys, unicode, large values,
 * concurrency, a randomized model check ("highest version wins"), the error half of the contract
 * (refused data, per-op failures, fenced counts, `close()` again), merge ops exactly once for the
 * kinds the store lists in `merges` and, given a mapped store, your own table (and its counter). It registers its cases with the runner you pass, so it runs under node:test, Vitest
 * and Jest, and a store's whole test file is a few lines:
 *
 * ```ts
 * import { describe, it } from 'node:test' // or 'vitest', or '@jest/globals'
 * import { describeStoreConformance } from 'writebehind/testing'
 * describeStoreConformance({ describe, it }, 'MyStore', async () => ({ store: new MyStore(), cleanup: () => drop() }))
 * ```
 *
 * The model-check case needs `fast-check` (a dev dependency of the project running it); it is
 * loaded only when that case runs, so the rest of `writebehind/testing` works without it.
 */
import assert from 'node:assert/strict'
import type { Store, StoreOp } from '../contracts/store.js'
import { invalid } from '../validate/check.js'
import { describeErrors } from './conformance-errors.js'
import { describeMapped, describeMappedCounter, type MappedCounterStoreFactory, type MappedStoreFactory } from './conformance-mapped.js'
import { describeMerges } from './conformance-merges.js'
import { assertEntry, deleteOp, setOp, sortedSuperseded, write } from './conformance-ops.js'
import { type Case, caseRegistrar, type ConformanceRunner, type Declared } from './conformance-runner.js'

export { deleteOp, loadedValue, mergeOp, setOp } from './conformance-ops.js'

/** Makes a fresh, empty store for one test case; `cleanup` runs after the case, pass or fail. */
export type StoreFactory = () => Promise<{ store: Store; cleanup?: () => Promise<void> }>

/**
 * What the store under test claims beyond the required contract. A case the store does not claim
 * is reported as skipped, with the reason, never as passed.
 */
export interface ConformanceOptions extends Declared {
  /**
   * Whether `writeBatch` reports `superseded` ops (fenced by a strictly newer stored version). A
   * store that cannot tell passes `false`; its fenced ops then count as applied. @default true
   */
  superseded?: boolean
  /** Whether `writeBatch` reports `fenced` counts. @default true */
  fenced?: boolean
  /**
   * An op, at `version`, holding data the store refuses (a NUL where the store cannot keep one, text
   * that is not JSON for a JSON column, a value breaking a constraint): `writeBatch` must throw an
   * error marked `retryable: false`, or report that op alone in `failures` so marked. Without it the
   * case is skipped.
   */
  poison?: (version: number) => StoreOp
  /** A store on your own table (see `MappedStoreFactory`); without it the mapped-table cases are skipped. */
  mapped?: MappedStoreFactory
  /**
   * A store on the same table whose `score` column is the counter (see `MappedCounterStoreFactory`);
   * without it the mapped counter case is skipped.
   */
  mappedCounter?: MappedCounterStoreFactory
  // merges (from Declared): the merge kinds the store applies. Left out, the suite reads
  // `store.merges` and skips a merge case for a kind it lacks while the case runs; under Jest
  // pass the list (`merges: []` for none).
  // ping, check, highestVersion, close (from Declared): leave them out and the suite looks at the store;
  // a case for a method the store lacks is then skipped while it runs (node:test's `t.skip()`,
  // Vitest's `context.skip()`). Jest cannot skip a running case: under Jest pass `false` for each
  // method your store lacks. `true` makes a missing method a failure.
}

/**
 * Registers the conformance cases for the store `factory` makes, under `describe('Store
 * conformance: <name>')` of `runner` (`{ describe, it }` from node:test, vitest or @jest/globals).
 * The optional `check()`, `ping()`, `highestVersion()` and `close()` are exercised where the store
 * has them, and reported as skipped where it does not.
 */
export function describeStoreConformance(runner: ConformanceRunner, name: string, factory: StoreFactory, options: ConformanceOptions = {}): void {
  validateRunner(runner, name)
  runner.describe(`Store conformance: ${name}`, () => {
    const test = caseRegistrar(runner, factory, options)
    const onStore: Case = (title, body, caseOptions) => test(title, ({ store }) => body(store), caseOptions)
    describeBasics(onStore)
    describeFencing(onStore)
    describeSuperseded(onStore, options.superseded === false ? 'the options say writeBatch reports no superseded ops' : undefined)
    describeHighestVersion(onStore)
    describeEdges(onStore)
    describeModelCheck(onStore)
    describeErrors(onStore, options)
    const reports = { fenced: options.fenced !== false, superseded: options.superseded !== false }
    describeMerges(onStore, reports)
    const mapped = options.mapped ?? (async () => assert.fail('unreachable: the mapped cases are skipped without options.mapped'))
    describeMapped(caseRegistrar(runner, mapped, options), {
      ...reports,
      skip: options.mapped === undefined ? 'no mapped-table factory was given (options.mapped)' : undefined,
    })
    const counter = options.mappedCounter ?? (async () => assert.fail('unreachable: the mapped counter case is skipped without options.mappedCounter'))
    // The main store's declared merges say nothing about the counter store's: it is read while the case runs.
    describeMappedCounter(caseRegistrar(runner, counter, { ...options, merges: undefined }), {
      ...reports,
      skip: options.mappedCounter === undefined ? 'no mapped counter factory was given (options.mappedCounter)' : undefined,
    })
  })
}

function validateRunner(runner: unknown, name: unknown): void {
  const r = runner as Partial<ConformanceRunner> | undefined
  if (typeof r?.describe !== 'function' || typeof r.it !== 'function' || typeof r.it.skip !== 'function') {
    const hint = typeof runner === 'string' ? ` (the runner now comes first: describeStoreConformance({ describe, it }, ${JSON.stringify(runner)}, factory))` : ''
    throw invalid('runner', `{ describe, it } from node:test, vitest or @jest/globals${hint}`, runner)
  }
  if (typeof name !== 'string') throw invalid('name', 'a string', name)
}

function describeBasics(test: Case): void {
  test('set then load returns the value and its version', async (store) => {
    const values = [{ score: 9001, tags: ['a', 'b'], nested: { ok: true, none: null } }, 'text', 42, 1.5, true, null, [1, [2]]]
    await write(
      store,
      values.map((value, i) => setOp(`rt:${i}`, 10 + i, value)),
    )
    const loaded = await store.load(values.map((_, i) => `rt:${i}`))
    assert.equal(loaded.size, values.length)
    values.forEach((value, i) => assertEntry(loaded, `rt:${i}`, 10 + i, value))
  })

  test(
    'ping(), where the store has one, answers while the store is up',
    async (store) => {
      await store.ping!()
      await store.ping!()
    },
    { needs: 'ping' },
  )

  test(
    'check(), where the store has one, passes on a usable store and changes nothing',
    async (store) => {
      await write(store, [setOp('check:a', 3, 'a')])
      await store.check!()
      await store.check!()
      const loaded = await store.load(['check:a', 'check:missing'])
      assert.equal(loaded.size, 1)
      assertEntry(loaded, 'check:a', 3, 'a')
    },
    { needs: 'check' },
  )

  test('a delete hides the key from load', async (store) => {
    await write(store, [setOp('del:a', 1, 'a'), setOp('del:b', 2, 'b')])
    await write(store, [deleteOp('del:a', 3)])
    const loaded = await store.load(['del:a', 'del:b'])
    assert.equal(loaded.has('del:a'), false)
    assertEntry(loaded, 'del:b', 2, 'b')
  })

  test('an empty batch is accepted and changes nothing', async (store) => {
    await write(store, [setOp('empty:a', 1, 'a')])
    await write(store, [])
    assertEntry(await store.load(['empty:a']), 'empty:a', 1, 'a')
  })

  test('load of missing keys (and of no keys) returns an empty map', async (store) => {
    assert.equal((await store.load(['missing:1', 'missing:2'])).size, 0)
    assert.equal((await store.load([])).size, 0)
  })
}

function describeFencing(test: Case): void {
  test('an older version never overwrites a newer one (v2 then v1 keeps v2)', async (store) => {
    await write(store, [setOp('fence:a', 2, 'two')])
    await write(store, [setOp('fence:a', 1, 'one')])
    assertEntry(await store.load(['fence:a']), 'fence:a', 2, 'two')
  })

  test('a replayed old batch after a newer one changes nothing', async (store) => {
    const old = [setOp('replay:a', 1, 'a1'), setOp('replay:b', 2, 'b2'), deleteOp('replay:c', 3)]
    const newer = [setOp('replay:a', 4, 'a4'), deleteOp('replay:b', 5), setOp('replay:c', 6, 'c6')]
    await write(store, old)
    await write(store, newer)
    await write(store, old)
    const loaded = await store.load(['replay:a', 'replay:b', 'replay:c'])
    assertEntry(loaded, 'replay:a', 4, 'a4')
    assert.equal(loaded.has('replay:b'), false)
    assertEntry(loaded, 'replay:c', 6, 'c6')
  })

  test('put→delete and delete→put end right whatever order the batches are replayed in', async (store) => {
    const orders = [
      [0, 1],
      [1, 0],
      [0, 1, 0],
      [1, 0, 1, 0],
      [1, 1, 0, 0],
    ]
    for (const [n, order] of orders.entries()) {
      const putThenDelete = [[setOp(`pd:${n}`, 1, 'x')], [deleteOp(`pd:${n}`, 2)]]
      const deleteThenPut = [[deleteOp(`dp:${n}`, 1)], [setOp(`dp:${n}`, 2, 'y')]]
      for (const i of order) {
        await write(store, putThenDelete[i] as StoreOp[])
        await write(store, deleteThenPut[i] as StoreOp[])
      }
      const loaded = await store.load([`pd:${n}`, `dp:${n}`])
      assert.equal(loaded.has(`pd:${n}`), false, `put→delete replayed as ${order.join(',')} must end deleted`)
      assertEntry(loaded, `dp:${n}`, 2, 'y')
    }
  })

  test('a tombstone fences an older set (no resurrection)', async (store) => {
    await write(store, [deleteOp('tomb:a', 5)])
    await write(store, [setOp('tomb:a', 4, 'stale')])
    assert.equal((await store.load(['tomb:a'])).has('tomb:a'), false)
    await write(store, [setOp('tomb:a', 6, 'fresh')])
    assertEntry(await store.load(['tomb:a']), 'tomb:a', 6, 'fresh')
  })

  test('redelivering the same batch is harmless', async (store) => {
    const batch = [setOp('redo:a', 1, 'a'), setOp('redo:b', 2, { b: 2 }), deleteOp('redo:c', 3)]
    for (let i = 0; i < 3; i++) await write(store, batch)
    const loaded = await store.load(['redo:a', 'redo:b', 'redo:c'])
    assertEntry(loaded, 'redo:a', 1, 'a')
    assertEntry(loaded, 'redo:b', 2, { b: 2 })
    assert.equal(loaded.has('redo:c'), false)
  })

  test('duplicate keys in one batch end at the highest version', async (store) => {
    await write(store, [setOp('dup:a', 1, 'a1'), setOp('dup:a', 2, 'a2'), setOp('dup:a', 3, 'a3')])
    await write(store, [setOp('dup:b', 4, 'b4'), deleteOp('dup:b', 5)])
    await write(store, [deleteOp('dup:c', 6), setOp('dup:c', 7, 'c7')])
    const loaded = await store.load(['dup:a', 'dup:b', 'dup:c'])
    assertEntry(loaded, 'dup:a', 3, 'a3')
    assert.equal(loaded.has('dup:b'), false)
    assertEntry(loaded, 'dup:c', 7, 'c7')
  })
}

function describeSuperseded(test: Case, skip: string | undefined): void {
  test(
    'an op fenced by a STRICTLY newer stored version is reported superseded, with that version',
    async (store) => {
      await write(store, [setOp('sup:a', 5, 'a5'), deleteOp('sup:b', 6), setOp('sup:c', 2, 'c2')])
      const result = await write(store, [setOp('sup:a', 3, 'stale'), setOp('sup:b', 4, 'stale'), setOp('sup:c', 7, 'c7'), setOp('sup:d', 1, 'd1')])
      assert.deepEqual(sortedSuperseded(result), [
        { index: 0, version: 5 },
        { index: 1, version: 6 },
      ])
      const loaded = await store.load(['sup:a', 'sup:b', 'sup:c', 'sup:d'])
      assertEntry(loaded, 'sup:a', 5, 'a5')
      assert.equal(loaded.has('sup:b'), false)
      assertEntry(loaded, 'sup:c', 7, 'c7')
      assertEntry(loaded, 'sup:d', 1, 'd1')
    },
    { skip },
  )

  test(
    'an op fenced by an EQUAL version is a redelivery: not superseded',
    async (store) => {
      const batch = [setOp('redeliver:a', 4, 'a'), deleteOp('redeliver:b', 5)]
      await write(store, batch)
      assert.deepEqual(sortedSuperseded(await write(store, batch)), [])
      assert.deepEqual(sortedSuperseded(await write(store, [setOp('fresh:a', 1, 'a')])), [])
    },
    { skip },
  )

  test(
    'duplicates of a superseded key are all superseded; one overwritten by its own batch is not',
    async (store) => {
      await write(store, [setOp('supdup:a', 9, 'a9'), setOp('supdup:b', 5, 'b5')])
      const result = await write(store, [setOp('supdup:a', 1, 'x'), setOp('supdup:b', 2, 'y'), setOp('supdup:a', 2, 'x2'), setOp('supdup:b', 10, 'b10')])
      assert.deepEqual(sortedSuperseded(result), [
        { index: 0, version: 9 },
        { index: 2, version: 9 },
      ])
      const loaded = await store.load(['supdup:a', 'supdup:b'])
      assertEntry(loaded, 'supdup:a', 9, 'a9')
      assertEntry(loaded, 'supdup:b', 10, 'b10')
    },
    { skip },
  )
}

function describeHighestVersion(test: Case): void {
  test(
    'highestVersion(), where the store has one, is 0 when empty and the highest version held, tombstones included',
    async (store) => {
      const highest = (): Promise<number> => store.highestVersion!()
      assert.equal(await highest(), 0)
      await write(store, [setOp('hv:a', 3, 'a'), setOp('hv:b', 8, 'b')])
      assert.equal(await highest(), 8)
      await write(store, [deleteOp('hv:a', 12)])
      assert.equal(await highest(), 12)
      await write(store, [setOp('hv:b', 4, 'stale')])
      assert.equal(await highest(), 12)
    },
    { needs: 'highestVersion' },
  )
}

function describeEdges(test: Case): void {
  test('unicode keys and values round-trip, and keys differing by case or trailing space stay apart', async (store) => {
    const entries: [string, unknown][] = [
      ['ключ:😀', { name: 'Zoë', emoji: '👩‍👩‍👧', han: '漢字', rtl: 'مرحبا' }],
      ['키/é/\u0301', 'combining \u0301 and quotes "\' and \\ backslash'],
      ['k', 'lower'],
      ['K', 'upper'],
      ['k ', 'trailing space'],
    ]
    await write(
      store,
      entries.map(([key, value], i) => setOp(key, i + 1, value)),
    )
    const loaded = await store.load(entries.map(([key]) => key))
    assert.equal(loaded.size, entries.length)
    entries.forEach(([key, value], i) => assertEntry(loaded, key, i + 1, value))
  })

  test('large values round-trip', async (store) => {
    const big = { blob: 'x'.repeat(1 << 20), list: Array.from({ length: 2000 }, (_, i) => ({ i })) }
    await write(store, [setOp('large:a', 1, big), setOp('large:b', 2, 'small')])
    const loaded = await store.load(['large:a', 'large:b'])
    assertEntry(loaded, 'large:a', 1, big)
    assertEntry(loaded, 'large:b', 2, 'small')
  })

  test('concurrent writeBatch calls on disjoint keys all land', async (store) => {
    const batches = Array.from({ length: 4 }, (_, b) => Array.from({ length: 200 }, (_, i) => setOp(`conc:${b}:${i}`, 1 + i, { b, i })))
    await Promise.all(batches.map((batch) => write(store, batch)))
    const keys = batches.flat().map((op) => op.key)
    const loaded = await store.load(keys)
    assert.equal(loaded.size, keys.length)
    assertEntry(loaded, 'conc:3:199', 200, { b: 3, i: 199 })
  })
}

function describeModelCheck(test: Case): void {
  test('random batches with redelivery and shuffled old batches end at "highest version wins"', async (store) => {
    const fc = await loadFastCheck()
    let run = 0
    const opArb = fc.record({ key: fc.integer({ min: 0, max: 5 }), del: fc.boolean(), value: fc.oneof(fc.integer(), fc.string()) })
    const batchesArb = fc.array(fc.array(opArb, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 8 })
    const replaysArb = fc.array(fc.array(fc.nat(), { maxLength: 3 }), { minLength: 8, maxLength: 8 })
    await fc.assert(
      fc.asyncProperty(batchesArb, replaysArb, async (shapes, replays) => {
        const prefix = `model:${run++}:`
        const { batches, model } = buildBatches(prefix, shapes)
        for (const [i, batch] of batches.entries()) {
          await write(store, batch)
          for (const pick of replays[i] ?? []) await write(store, batches[pick % (i + 1)] as StoreOp[])
        }
        await assertModel(store, prefix, model)
      }),
      { numRuns: 25 },
    )
  })
}

/** fast-check, imported on first use: `FakeClock` and the helpers must not need it. */
async function loadFastCheck(): Promise<typeof import('fast-check')> {
  try {
    return await import('fast-check')
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND') throw error
    throw new Error('the conformance model check needs fast-check: install it as a dev dependency (npm install -D fast-check)', { cause: error })
  }
}

interface ModelEntry {
  readonly version: number
  readonly value: unknown
  readonly deleted: boolean
}

function buildBatches(prefix: string, shapes: { key: number; del: boolean; value: unknown }[][]): { batches: StoreOp[][]; model: Map<string, ModelEntry> } {
  let version = 0
  const model = new Map<string, ModelEntry>()
  const batches = shapes.map((shape) =>
    shape.map(({ key, del, value }) => {
      const k = `${prefix}${key}`
      version++
      model.set(k, { version, value, deleted: del })
      return del ? deleteOp(k, version) : setOp(k, version, value)
    }),
  )
  return { batches, model }
}

async function assertModel(store: Store, prefix: string, model: Map<string, ModelEntry>): Promise<void> {
  const keys = Array.from({ length: 6 }, (_, i) => `${prefix}${i}`)
  const loaded = await store.load(keys)
  for (const key of keys) {
    const expected = model.get(key)
    if (expected === undefined || expected.deleted) assert.equal(loaded.has(key), false, `${key} must be absent`)
    else assertEntry(loaded, key, expected.version, expected.value)
  }
}
