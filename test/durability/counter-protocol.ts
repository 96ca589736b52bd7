/**
 * What the counter kill test's parent and child share: the child's config, its messages, and the
 * deterministic choice of counter for each increment (so the parent knows where an increment it
 * was not told about went).
 */
import type { Store } from '../../src/index.js'
import { SqliteStore } from '../../src/stores/sql/sqlite/index.js'
import { seededRandom } from '../helpers/seeded-random.js'
import { SqliteRmwStore } from './sqlite-rmw-store.js'

export type CounterDurability = 'memory' | 'log' | 'disk'

export interface CounterChildConfig {
  readonly dir: string
  /** SQLite database file. */
  readonly db: string
  /** `sqlite`: SqliteStore; `rmw`: the test-only read-modify-write store (sqlite-rmw-store.ts). */
  readonly store: 'sqlite' | 'rmw'
  readonly durability: CounterDurability
  readonly seed: number
  /** Run number within a chain (≥ 1). */
  readonly run: number
  /** Writer w adds 2^w: at most 30. */
  readonly writers: number
  readonly counters: number
  readonly flushIntervalMs: number
  readonly coalesce: boolean
}

export type CounterMessage =
  | { readonly t: 'ready' }
  /** Writer `w`'s `n`-th increment of this run was acknowledged. */
  | { readonly t: 'ack'; readonly w: number; readonly n: number }
  | { readonly t: 'error'; readonly message: string }

export function counterKey(index: number): string {
  return `counter:${index}`
}

/** Writer `w`'s counter choices in run `run`, in order: the n-th call gives its n-th increment's counter. */
export function counterPicker(seed: number, run: number, w: number, counters: number): () => number {
  const random = seededRandom(seed * 1000 + run * 100 + w)
  return () => Math.floor(random() * counters)
}

/** The store the config names, on the SQLite file `path`. */
export function openCounterStore(kind: CounterChildConfig['store'], path: string): Store {
  return kind === 'rmw' ? new SqliteRmwStore(path) : new SqliteStore({ path })
}
