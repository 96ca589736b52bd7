/**
 * The one table of the metrics the Prometheus and OpenTelemetry adapters publish: each metric's
 * Prometheus name (after the prefix), its OpenTelemetry name and unit (chosen so that the standard
 * OpenTelemetry-to-Prometheus translation gives the Prometheus name), its kind, its help text and
 * its labels. Both adapters build their instruments from it, and tests keep the README's metric
 * table equal to it.
 *
 * Every label has a closed set of values (`LABEL_VALUES`): no key, value or error text ever
 * becomes a label, so a cache adds a bounded number of series, whatever it is fed. Besides these,
 * every series carries `cache` (the cache's `name`) and the adapter's static labels.
 *
 * Where a value comes from: `source: 'channel'` metrics are fed by the diagnostics channels
 * (counted from when the adapter is registered); `source: 'stats'` metrics read `cache.stats()` at
 * scrape (collection) time; `source: 'recovery'` reads `cache.recovery` once, at registration.
 */
import { DURABILITIES } from '../contracts/options.js'

/** A label an instrument may carry, besides `cache`. */
export type LabelName = 'op' | 'durability' | 'result' | 'outcome'

/** The values each label can take. */
export const LABEL_VALUES: { readonly [L in LabelName]: readonly string[] } = Object.freeze({
  op: Object.freeze(['set', 'delete', 'merge']),
  /** Every level of either tier: the embedded tier's, and `replicated` (the Redis tier). */
  durability: Object.freeze([...DURABILITIES, 'replicated']),
  /** `ok`: the write was acknowledged (the batch succeeded); `failed`: it was rejected (the batch failed). */
  result: Object.freeze(['ok', 'failed']),
  /** What the store did with a flushed op. */
  outcome: Object.freeze(['applied', 'fenced', 'failed', 'dead_lettered']),
})

/** Where an instrument's values come from (see the header). */
export type InstrumentSource = 'channel' | 'stats' | 'recovery'

export interface Instrument {
  /** Prometheus name, after the adapter's prefix (`writebehind_` by default). */
  readonly name: string
  readonly kind: 'counter' | 'histogram' | 'gauge'
  /** OpenTelemetry instrument name. */
  readonly otelName: string
  /** OpenTelemetry unit (UCUM: `s`, `By`, or an annotation such as `{write}`). */
  readonly otelUnit: string
  readonly help: string
  /** Labels besides `cache`, in order. */
  readonly labels: readonly LabelName[]
  readonly source: InstrumentSource
  /** Histogram bucket upper bounds, in the metric's unit. */
  readonly buckets?: readonly number[]
}

/** Bucket bounds (seconds) for an acknowledgement: from 50 µs (memory) to 10 s (a slow store). */
const ACK_BUCKETS = Object.freeze([0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])
/** Bucket bounds (seconds) for a store batch or an fsync. */
const IO_BUCKETS = Object.freeze([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30])
/** Bucket bounds (ops) for a batch's size. */
const SIZE_BUCKETS = Object.freeze([1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000])

/** Every metric, by a short id the adapters use. */
export const INSTRUMENTS = Object.freeze({
  writes: {
    name: 'writes_total',
    kind: 'counter',
    otelName: 'writebehind.writes',
    otelUnit: '{write}',
    help: 'Writes by op, durability level and result (ok: acknowledged; failed: rejected, or its level not reached).',
    labels: ['op', 'durability', 'result'],
    source: 'channel',
  },
  ackDuration: {
    name: 'ack_duration_seconds',
    kind: 'histogram',
    otelName: 'writebehind.ack.duration',
    otelUnit: 's',
    help: 'Time from a write call to its acknowledgement, by durability level (acknowledged writes only: its _count is them).',
    labels: ['durability'],
    source: 'channel',
    buckets: ACK_BUCKETS,
  },
  flushOps: {
    name: 'flush_ops_total',
    kind: 'counter',
    otelName: 'writebehind.flush.ops',
    otelUnit: '{op}',
    help: 'Flushed ops by outcome: applied, fenced (the store held a newer version), failed (to be retried or dead-lettered), dead_lettered.',
    labels: ['outcome'],
    source: 'channel',
  },
  flushDuration: {
    name: 'flush_duration_seconds',
    kind: 'histogram',
    otelName: 'writebehind.flush.duration',
    otelUnit: 's',
    help: 'Duration of store.writeBatch calls, by result (failed: it threw, timed out or reported failed ops).',
    labels: ['result'],
    source: 'channel',
    buckets: IO_BUCKETS,
  },
  flushBatchSize: {
    name: 'flush_batch_size',
    kind: 'histogram',
    otelName: 'writebehind.flush.batch.size',
    otelUnit: '{op}',
    help: 'Ops per store.writeBatch call.',
    labels: [],
    source: 'channel',
    buckets: SIZE_BUCKETS,
  },
  backlogEntries: {
    name: 'backlog_entries',
    kind: 'gauge',
    otelName: 'writebehind.backlog.entries',
    otelUnit: '{entry}',
    help: 'Unflushed entries now (in flight included).',
    labels: [],
    source: 'stats',
  },
  backlogBytes: {
    name: 'backlog_bytes',
    kind: 'gauge',
    otelName: 'writebehind.backlog.bytes',
    otelUnit: 'By',
    help: "Bytes of the unflushed entries' keys and values (UTF-16 code units).",
    labels: [],
    source: 'stats',
  },
  backlogMaxEntries: {
    name: 'backlog_max_entries',
    kind: 'gauge',
    otelName: 'writebehind.backlog.max.entries',
    otelUnit: '{entry}',
    help: 'The backlog cap on entries (backlog.maxEntries; +Inf when unbounded).',
    labels: [],
    source: 'stats',
  },
  backlogMaxBytes: {
    name: 'backlog_max_bytes',
    kind: 'gauge',
    otelName: 'writebehind.backlog.max.bytes',
    otelUnit: 'By',
    help: 'The backlog cap on bytes (backlog.maxBytes; +Inf when unbounded).',
    labels: [],
    source: 'stats',
  },
  oldestAge: {
    name: 'backlog_oldest_age_seconds',
    kind: 'gauge',
    otelName: 'writebehind.backlog.oldest.age',
    otelUnit: 's',
    help: 'Age of the oldest unflushed write (0 when nothing is dirty): how far the store lags.',
    labels: [],
    source: 'stats',
  },
  waitingWrites: {
    name: 'backlog_waiting_writes',
    kind: 'gauge',
    otelName: 'writebehind.backlog.waiting.writes',
    otelUnit: '{write}',
    help: "Writes waiting for room in a full backlog (whenFull: 'wait').",
    labels: [],
    source: 'stats',
  },
  circuitOpen: {
    name: 'circuit_open',
    kind: 'gauge',
    otelName: 'writebehind.circuit.open',
    otelUnit: '',
    help: 'Whether flushing is paused after repeated failures (1: open, probing the store; 0: closed).',
    labels: [],
    source: 'stats',
  },
  deadLetters: {
    name: 'dead_letters',
    kind: 'gauge',
    otelName: 'writebehind.dead_letters',
    otelUnit: '{entry}',
    help: 'Writes in the dead-letter queue now.',
    labels: [],
    source: 'stats',
  },
  logBytes: {
    name: 'log_bytes',
    kind: 'gauge',
    otelName: 'writebehind.log.bytes',
    otelUnit: 'By',
    help: 'Bytes of the dirty log on disk (absent without a dir).',
    labels: [],
    source: 'stats',
  },
  logSegments: {
    name: 'log_segments',
    kind: 'gauge',
    otelName: 'writebehind.log.segments',
    otelUnit: '{segment}',
    help: 'Segment files of the dirty log (absent without a dir).',
    labels: [],
    source: 'stats',
  },
  fsyncDuration: {
    name: 'log_fsync_duration_seconds',
    kind: 'histogram',
    otelName: 'writebehind.log.fsync.duration',
    otelUnit: 's',
    help: 'Duration of the dirty log fsyncs (its _count is the fsyncs).',
    labels: [],
    source: 'channel',
    buckets: IO_BUCKETS,
  },
  backlogFull: {
    name: 'backlog_full_total',
    kind: 'counter',
    otelName: 'writebehind.backlog.full',
    otelUnit: '{episode}',
    help: 'Times a write found the backlog full (once per episode).',
    labels: [],
    source: 'channel',
  },
  recoveredRecords: {
    name: 'recovery_records_total',
    kind: 'counter',
    otelName: 'writebehind.recovery.records',
    otelUnit: '{record}',
    help: 'Dirty-log records open() replayed (made dirty again to be flushed).',
    labels: [],
    source: 'recovery',
  },
} as const satisfies Record<string, Instrument>)

export type InstrumentId = keyof typeof INSTRUMENTS

/** The instruments as a list, in table order. */
export const INSTRUMENT_LIST: readonly (Instrument & { readonly id: InstrumentId })[] = Object.freeze(
  (Object.keys(INSTRUMENTS) as InstrumentId[]).map((id) => Object.freeze({ id, ...INSTRUMENTS[id] })),
)

/** Every combination of an instrument's label values (one empty set for an instrument without labels). */
export function labelCombinations(labels: readonly LabelName[]): Array<Record<string, string>> {
  let sets: Array<Record<string, string>> = [{}]
  for (const label of labels) sets = sets.flatMap((set) => LABEL_VALUES[label].map((value) => ({ ...set, [label]: value })))
  return sets
}
