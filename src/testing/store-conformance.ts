/**
 * The conformance suite every Store must pass, built-in or third-party: round trips, tombstones,
 * fencing under redelivery and reordering of old batches, duplicate keys, unicode, large values,
 * concurrency, and a randomized model check ("highest version wins"). It registers node:test
 * cases, so a store's whole test file is a few lines:
 *
 * ```ts
 * import { describeStoreConformance } from 'writebehind/testing'
 * describeStoreConformance('MyStore', async () => ({ store: new MyStore(), cleanup: () => drop() }))
 * ```
 *
 * The model-check case needs `fast-check` (a dev dependency of the project running it); it is
 * loaded only when that case runs, so the rest of `writebehind/testing` works without it.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { BatchResult, LoadedEntry, Store, StoreOp } from '../contracts/store.js'

/** Makes a fresh, empty store for one test case; `cleanup` runs after the case, pass or fail. */
export type StoreFactory = () => Promise<{ store: Store; cleanup?: () => Promise<void> }>

/** A set op, with `encoded` as JSON text like the default codec gives. */
export function setOp(key: string, version: number, value: unknown): StoreOp {
  return { kind: 'set', key, version, value, encoded: JSON.stringify(value) }
}

/** A delete op. */
export function deleteOp(key: string, version: number): StoreOp {
  return { kind: 'delete', key, version }
}

/** The decoded value of a loaded entry, whichever form the store returned. */
export function loadedValue(entry: LoadedEntry): unknown {
  return entry.encoded !== undefined ? (JSON.parse(entry.encoded) as unknown) : entry.value
}

/** Registers the conformance cases for the store `factory` makes, under `describe(name)`. */
export function describeStoreConformance(name: string, factory: StoreFactory): void {
  describe(`Store conformance: ${name}`, () => {
    const test = (title: string, body: (store: Store) => Promise<void>): void => {
      it(title, async () => {
        const { store, cleanup } = await factory()
        try {
          await body(store)
        } finally {
          await cleanup?.()
        }
      })
    }
    describeBasics(test)
    describeFencing(test)
    describeEdges(test)
    describeModelCheck(test)
  })
}

type Case = (title: string, body: (store: Store) => Promise<void>) => void

function describeBasics(test: Case): void {
  test('set then load returns the value and its version', async (store) => {
    const values = [{ score: 9001, tags: ['a', 'b'], nested: { ok: true, none: null } }, 'text', 42, 1.5, true, null, [1, [2]]]
    await write(store, values.map((value, i) => setOp(`rt:${i}`, 10 + i, value)))
    const loaded = await store.load(values.map((_, i) => `rt:${i}`))
    assert.equal(loaded.size, values.length)
    values.forEach((value, i) => assertEntry(loaded, `rt:${i}`, 10 + i, value))
  })

  test('ping(), where the store has one, answers while the store is up', async (store) => {
    if (store.ping === undefined) return
    await store.ping()
    await store.ping()
  })

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
    const orders = [[0, 1], [1, 0], [0, 1, 0], [1, 0, 1, 0], [1, 1, 0, 0]]
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

function describeEdges(test: Case): void {
  test('unicode keys and values round-trip, and keys differing by case or trailing space stay apart', async (store) => {
    const entries: [string, unknown][] = [
      ['ключ:😀', { name: 'Zoë', emoji: '👩‍👩‍👧', han: '漢字', rtl: 'مرحبا' }],
      ['키/é/\u0301', 'combining \u0301 and quotes "\' and \\ backslash'],
      ['k', 'lower'],
      ['K', 'upper'],
      ['k ', 'trailing space'],
    ]
    await write(store, entries.map(([key, value], i) => setOp(key, i + 1, value)))
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

async function write(store: Store, ops: readonly StoreOp[]): Promise<BatchResult | void> {
  const result = await store.writeBatch(ops)
  assert.deepEqual(result?.failures ?? [], [], 'valid ops must not fail')
  return result
}

function assertEntry(loaded: Map<string, LoadedEntry>, key: string, version: number, value: unknown): void {
  const entry = loaded.get(key)
  assert.ok(entry !== undefined, `expected ${key} to be loaded`)
  assert.equal(entry.version, version, `version of ${key}`)
  assert.deepEqual(loadedValue(entry), value, `value of ${key}`)
}
