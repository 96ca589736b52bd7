/**
 * The cache's `node:diagnostics_channel` channels and their messages: what an APM agent, the
 * Prometheus and OpenTelemetry adapters, or your own subscriber reads. Every message carries the
 * cache's `name` (option `name`). A channel with no subscriber costs one `hasSubscribers` check:
 * no message is built. Subscribers run synchronously, inside the cache's work: keep them short;
 * one that throws is reported by Node on the next tick and never reaches the cache's callers.
 *
 * The contract leaves out: ordering between messages of different channels, and any message for a
 * read (reads are counted in `stats()`).
 */
import type { Durability } from './options.js'

/** Channel names, one constant each, so a subscriber never spells them. */
export const CHANNELS = Object.freeze({
  /** A write was acknowledged at its durability, or failed before its ack: {@link WriteMessage}. */
  write: 'writebehind:write',
  /**
   * A TracingChannel around every `store.writeBatch` call (subscribe with
   * `diagnostics_channel.tracingChannel(CHANNELS.storeBatch)`): `start` before the call,
   * `asyncEnd` after it settled (the context then holds `result`), `error` when it threw or timed
   * out. The context is a {@link StoreBatchContext}.
   */
  storeBatch: 'writebehind:store.batch',
  /** A write went to the dead-letter queue: {@link DeadLetterMessage}. */
  deadLetter: 'writebehind:dead-letter',
  /** The circuit opened or closed: {@link CircuitMessage}. */
  circuit: 'writebehind:circuit',
  /** A write found the backlog full (once per episode): {@link BacklogFullMessage}. */
  backlogFull: 'writebehind:backlog.full',
  /** The dirty log called fsync: {@link LogFsyncMessage}. */
  logFsync: 'writebehind:log.fsync',
  /** `open()` replayed the dirty log: {@link RecoveryMessage}. */
  recovery: 'writebehind:recovery',
} as const)

/** The ops a write can be. */
export type WriteOp = 'set' | 'delete' | 'merge'

/** Published on {@link CHANNELS.write}. */
export interface WriteMessage {
  /** The cache's name. */
  readonly cache: string
  /** What was written. */
  readonly op: WriteOp
  /** The durability the caller waited for. */
  readonly durability: Durability
  /** Milliseconds from the call to its ack (or its failure). */
  readonly durationMs: number
  /** `false` when the write was rejected or its durability was not reached. */
  readonly ok: boolean
  /** The key. Never use it as a metric label: keys are unbounded. */
  readonly key: string
}

/** The context object of the {@link CHANNELS.storeBatch} TracingChannel. */
export interface StoreBatchContext {
  /** The cache's name. */
  readonly cache: string
  /** Ops in the batch. */
  readonly ops: number
  /** Attempt number of this batch's oldest op (1 on the first try). */
  readonly attempt: number
  /**
   * Set when the call settled (also when it failed): `applied` the ops the store took (the ones
   * `stats().flush.ops` counts, fenced ones included), `fenced` those of them it skipped as not
   * newer, `failed` the ops it refused (to be retried or dead-lettered; all of them when the call
   * threw); the rest (`ops - applied - failed`) were superseded. `durationMs` by `performance.now()`.
   */
  result?: { readonly applied: number; readonly fenced: number; readonly failed: number; readonly durationMs: number }
  /** Set when the call threw or timed out (all its ops failed). */
  error?: unknown
}

/** Published on {@link CHANNELS.deadLetter}. */
export interface DeadLetterMessage {
  readonly cache: string
  readonly key: string
  readonly version: number
  readonly error: Error
}

/** Published on {@link CHANNELS.circuit}. */
export interface CircuitMessage {
  readonly cache: string
  /** The circuit's new state. */
  readonly state: 'open' | 'closed'
  /** When it opened: the consecutive failed batches; when it closed: how long it was open. */
  readonly failures?: number
  readonly openForMs?: number
}

/** Published on {@link CHANNELS.backlogFull}. */
export interface BacklogFullMessage {
  readonly cache: string
  readonly entries: number
  readonly bytes: number
}

/** Published on {@link CHANNELS.logFsync}. */
export interface LogFsyncMessage {
  readonly cache: string
  /** How long the fsync took. */
  readonly durationMs: number
}

/** Published on {@link CHANNELS.recovery}. */
export interface RecoveryMessage {
  readonly cache: string
  /** Records replayed, keys made dirty again, and how long it took. */
  readonly records: number
  readonly keys: number
  readonly durationMs: number
}
