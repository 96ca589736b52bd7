/**
 * Subscribes to the cache's diagnostics channels for one cache name and turns each message into a
 * call on a `MetricsSink`: the part the Prometheus and OpenTelemetry adapters share. Messages of
 * other caches are skipped by name. Returns a function that unsubscribes everything it subscribed,
 * safe to call twice.
 *
 * A store batch is counted once: when the call settled (`asyncEnd`) with its `result`, or when it
 * failed (`error`) with all its ops failed (then `asyncEnd` follows and is skipped). Its duration is `result.durationMs` when the cache
 * reports it, else measured here from `start`.
 */
import diagnostics from 'node:diagnostics_channel'
import { performance } from 'node:perf_hooks'
import { CHANNELS, type BacklogFullMessage, type DeadLetterMessage, type LogFsyncMessage, type StoreBatchContext, type WriteMessage } from '../contracts/diagnostics.js'

/** What a metrics adapter does with the cache's messages. Durations in seconds. */
export interface MetricsSink {
  write(message: WriteMessage, seconds: number): void
  /** A settled `store.writeBatch` call; `failed` counts its failed ops (all of them when it threw). */
  batch(ops: number, outcome: { readonly applied: number; readonly fenced: number; readonly failed: number }, seconds: number): void
  deadLetter(): void
  fsync(seconds: number): void
  backlogFull(): void
}

type Handler = (message: unknown, name: string | symbol) => void

/** Subscribes `sink` to the messages of the cache named `cache`; returns the unsubscribe. */
export function subscribeMetrics(cache: string, sink: MetricsSink): () => void {
  const started = new WeakMap<object, number>()
  const handlers: Array<[string, Handler]> = [
    [CHANNELS.write, (m) => (m as WriteMessage).cache === cache && sink.write(m as WriteMessage, (m as WriteMessage).durationMs / 1000)],
    [CHANNELS.deadLetter, (m) => (m as DeadLetterMessage).cache === cache && sink.deadLetter()],
    [CHANNELS.logFsync, (m) => (m as LogFsyncMessage).cache === cache && sink.fsync((m as LogFsyncMessage).durationMs / 1000)],
    [CHANNELS.backlogFull, (m) => (m as BacklogFullMessage).cache === cache && sink.backlogFull()],
  ]
  const seconds = (context: StoreBatchContext): number => {
    const durationMs = context.result?.durationMs ?? performance.now() - (started.get(context) ?? performance.now())
    return durationMs / 1000
  }
  // The TracingChannel's sub-channels, by their documented names (`tracing:<name>:<event>`).
  const traced = (event: string): string => `tracing:${CHANNELS.storeBatch}:${event}`
  handlers.push(
    [
      traced('start'),
      (m) => {
        if ((m as StoreBatchContext).cache === cache) started.set(m as object, performance.now())
      },
    ],
    [
      traced('asyncEnd'),
      (m) => {
        const context = m as StoreBatchContext
        if (context.cache !== cache || context.error !== undefined || context.result === undefined) return
        // `applied` counts the ops taken, a fenced redelivery included but not a superseded op (the
        // store held a strictly newer version); the store's `fenced` may count both. Each is the
        // store holding newer: an op not failed is fenced if either count says so, else applied.
        const { applied, fenced, failed } = context.result
        const skipped = Math.max(fenced, context.ops - failed - applied)
        sink.batch(context.ops, { applied: context.ops - failed - skipped, fenced: skipped, failed }, seconds(context))
      },
    ],
    [
      traced('error'),
      (m) => {
        const context = m as StoreBatchContext
        if (context.cache === cache) sink.batch(context.ops, { applied: 0, fenced: 0, failed: context.ops }, seconds(context))
      },
    ],
  )
  for (const [name, handler] of handlers) diagnostics.subscribe(name, handler)
  let subscribed = true
  return () => {
    if (!subscribed) return
    subscribed = false
    for (const [name, handler] of handlers) diagnostics.unsubscribe(name, handler)
  }
}
