/** Ops and assertions the conformance cases share; `setOp`, `deleteOp`, `mergeOp` and `loadedValue` are public. */
import assert from 'node:assert/strict'
import type { BatchResult, LoadedEntry, MergeKind, Store, StoreOp } from '../contracts/store.js'

/** A set op, with `encoded` as JSON text like the default codec gives. */
export function setOp(key: string, version: number, value: unknown): StoreOp {
  return { kind: 'set', key, version, value, encoded: JSON.stringify(value) }
}

/** A delete op. */
export function deleteOp(key: string, version: number): StoreOp {
  return { kind: 'delete', key, version }
}

/** A merge op (`cache.increment` sends `sum`, `cache.max` and `cache.min` send `max` and `min`). */
export function mergeOp(key: string, version: number, merge: MergeKind, operand: number): StoreOp {
  return { kind: 'merge', key, version, merge, operand }
}

/** The decoded value of a loaded entry, whichever form the store returned. */
export function loadedValue(entry: LoadedEntry): unknown {
  return entry.encoded !== undefined ? (JSON.parse(entry.encoded) as unknown) : entry.value
}

/** Writes a batch of valid ops: none may fail. */
export async function write(store: Store, ops: readonly StoreOp[]): Promise<BatchResult | void> {
  const result = await store.writeBatch(ops)
  assert.deepEqual(result?.failures ?? [], [], 'valid ops must not fail')
  return result
}

export function assertEntry(loaded: Map<string, LoadedEntry>, key: string, version: number, value: unknown): void {
  const entry = loaded.get(key)
  assert.ok(entry !== undefined, `expected ${key} to be loaded`)
  assert.equal(entry.version, version, `version of ${key}`)
  assert.deepEqual(loadedValue(entry), value, `value of ${key}`)
}

export function sortedSuperseded(result: BatchResult | void): { index: number; version: number }[] {
  return [...(result?.superseded ?? [])].map(({ index, version }) => ({ index, version })).sort((x, y) => x.index - y.index)
}

/** Awaits `promise` and returns what it rejected with, failing when it resolves. */
export async function rejection(promise: Promise<unknown>, what: string): Promise<unknown> {
  return promise.then(
    () => assert.fail(`${what} must reject`),
    (error: unknown) => error,
  )
}
