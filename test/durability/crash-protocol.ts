/**
 * What the crash-test parent and its child share: the child's config, the IPC messages, and the
 * deterministic key names and values, so the parent can check any row it finds without having
 * been told its value.
 *
 * Sequence numbers: every write to a key gets `seq = run * SEQ_PER_RUN + n`, where `n` counts that
 * key's writes in this child run. Runs of a chain use increasing `run`, so a later child's writes
 * always have higher sequences than an earlier child's, and per key, seq order is issue order,
 * which is version order (the child issues a key's writes one after another, synchronously).
 */

/** Room for a key's writes within one child run. */
export const SEQ_PER_RUN = 10_000_000

/** The SQLite table the child's store writes (the built-in layout). */
export const TABLE = 'writebehind_entries'

export type CrashDurability = 'log' | 'disk'

export interface ChildConfig {
  readonly dir: string
  /** SQLite database file. */
  readonly db: string
  readonly durability: CrashDurability
  /** Seeds the writers' choices. */
  readonly seed: number
  /** Run number within a chain (≥ 1); the high part of every sequence. */
  readonly run: number
  readonly writers: number
  readonly keys: number
  readonly segmentBytes: number
  readonly flushIntervalMs: number
  readonly batchSize: number
  /** Flights in parallel. */
  readonly concurrency: number
  /** Coalescing backlog (true) or every write flushed in order (false). */
  readonly coalesce: boolean
}

/** An acknowledged write: [key index, seq, 1 if a delete else 0]. */
export type Ack = readonly [number, number, 0 | 1]
/** A delete about to be issued: [key index, seq]. Sent, and its send confirmed, before the delete. */
export type Intent = readonly [number, number]

export type ChildMessage =
  | { readonly t: 'ready'; readonly recoveredRecords: number }
  | { readonly t: 'acks'; readonly a: readonly Ack[] }
  | { readonly t: 'intents'; readonly d: readonly Intent[] }
  | { readonly t: 'error'; readonly message: string }

/** The value a set writes: it carries its key and seq, and a pad whose length both derive. */
export interface CrashValue {
  readonly k: number
  readonly s: number
  readonly p: string
}

export function keyName(index: number): string {
  return `k${index}`
}

/** The key index of a name made by `keyName`, or undefined. */
export function keyIndex(name: string): number | undefined {
  const match = /^k(\d+)$/.exec(name)
  return match === null ? undefined : Number(match[1])
}

export function valueFor(index: number, seq: number): CrashValue {
  return { k: index, s: seq, p: 'x'.repeat((seq * 7 + index * 13) % 160) }
}
