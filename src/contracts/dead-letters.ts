/**
 * Dead letters as callers see them: writes that could not be flushed (a permanent error, or
 * retries exhausted), kept with their error until someone inspects, replays or drops them (see
 * `cache.deadLetters()`, `replayDeadLetters()`, `dropDeadLetters()`). At most one per key: a newer
 * version replaces an older one. The contract leaves out where and how the queue keeps them.
 *
 * A `merge` letter (an increment the store refused) holds back the later merges of its key, which
 * would otherwise pass it (and the store's version fence would then drop it on replay), until it
 * is replayed or dropped; a later `set` or `delete` of the key that lands retires it. Two merge
 * letters of one key (global order's `skipHalted` can make them) fold into one that carries both
 * deltas, or into a set of the newer one's whole value when their kinds differ.
 */
import type { MergeKind } from './store.js'

/** A write that could not be flushed, as kept in the queue. JSON-safe. */
export interface DeadLetter {
  /** The key written. */
  key: string
  /** The write's version. */
  version: number
  /** What the write was; a `merge` is an `increment`, `max` or `min` (several of them combined). */
  kind: 'set' | 'delete' | 'merge'
  /** The encoded value of a `set`, or the value after a `merge` as the cache saw it; `null` for a `delete`. */
  encoded: string | null
  /** A merge's kind (`sum` for increments); only on a `merge`. */
  merge?: MergeKind
  /** A merge's operand (the sum of its increments, or the number compared); only on a `merge`. */
  operand?: number
  /** Why its last attempt failed. */
  error: ErrorDescription
  /** Attempts made before the write was dead-lettered. */
  attempts: number
  /** When the first attempt failed (epoch ms). */
  firstFailedAt: number
  /** When the last attempt failed (epoch ms). */
  lastFailedAt: number
}

/** A JSON-safe description of an error, as kept with a dead letter. */
export interface ErrorDescription {
  /** The error's `name` (`StoreError`, `TypeError`...). */
  name: string
  /** The error's `code`, when it had one. */
  code?: string
  /** The error's message, cut at 2,000 characters. */
  message: string
  /** Whether retrying could have helped (see `StoreError.retryable`). */
  retryable: boolean
}

/** Selects dead letters; every field given must match. */
export interface DeadLetterFilter {
  /** Only letters of these keys. */
  keys?: readonly string[]
  /** Only letters whose key starts with this. */
  prefix?: string
  /** Only letters with `version <= maxVersion`. */
  maxVersion?: number
}

/** A filter, or a predicate over letters. */
export type DeadLetterSelector = DeadLetterFilter | ((letter: DeadLetter) => boolean)
