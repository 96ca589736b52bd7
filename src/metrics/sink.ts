/**
 * The one `MetricsSink` both adapters use: it turns the cache's messages into increments and
 * observations of the instruments table, on the recorders an adapter provides (prom-client
 * metrics, OpenTelemetry instruments). Label sets are made once per combination and reused, so a
 * write allocates none; `cache` and the adapter's static labels are in every set.
 */
import type { WriteMessage } from '../contracts/diagnostics.js'
import type { MetricsSink } from './feed.js'
import { LABEL_VALUES, type InstrumentId, type INSTRUMENTS } from './instruments.js'

export type Labels = Readonly<Record<string, string>>

type IdOfKind<K extends string> = { [I in InstrumentId]: (typeof INSTRUMENTS)[I]['kind'] extends K ? I : never }[InstrumentId]
export type CounterId = IdOfKind<'counter'>
export type HistogramId = IdOfKind<'histogram'>

/** Adds to a counter, or records an observation in a histogram, for one label set. */
export type Recorder = (labels: Labels, value: number) => void

/** How an adapter increments its counters and observes its histograms. */
export interface Recorders {
  counter(id: CounterId): Recorder
  histogram(id: HistogramId): Recorder
}

/** Starts the counters an alert watches at 0 (so their first increase shows), and counts the replay `open()` made. */
export function startCounters(recorders: Recorders, base: Labels, recoveredRecords: number): void {
  const flushOps = recorders.counter('flushOps')
  for (const outcome of LABEL_VALUES.outcome) flushOps({ ...base, outcome }, 0)
  recorders.counter('backlogFull')(base, 0)
  recorders.counter('recoveredRecords')(base, recoveredRecords)
}

/** The sink that feeds `recorders` with `base` labels. */
export function metricsSink(recorders: Recorders, base: Labels): MetricsSink {
  const writes = recorders.counter('writes')
  const ack = recorders.histogram('ackDuration')
  const flushOps = recorders.counter('flushOps')
  const flushDuration = recorders.histogram('flushDuration')
  const batchSize = recorders.histogram('flushBatchSize')
  const fsync = recorders.histogram('fsyncDuration')
  const backlogFull = recorders.counter('backlogFull')
  const sets = new Map<string, Labels>()
  const labelled = (key: string, extra: () => Labels): Labels => {
    let set = sets.get(key)
    if (set === undefined) sets.set(key, (set = Object.freeze({ ...base, ...extra() })))
    return set
  }
  const outcome = (value: string): Labels => labelled(`outcome=${value}`, () => ({ outcome: value }))
  return {
    write(m: WriteMessage, seconds: number) {
      const result = m.ok ? 'ok' : 'failed'
      writes(
        labelled(`${m.op}|${m.durability}|${result}`, () => ({ op: m.op, durability: m.durability, result })),
        1,
      )
      if (m.ok)
        ack(
          labelled(`durability=${m.durability}`, () => ({ durability: m.durability })),
          seconds,
        )
    },
    batch(ops, result, seconds) {
      if (result.applied > 0) flushOps(outcome('applied'), result.applied)
      if (result.fenced > 0) flushOps(outcome('fenced'), result.fenced)
      if (result.failed > 0) flushOps(outcome('failed'), result.failed)
      const ok = result.failed > 0 ? 'failed' : 'ok'
      flushDuration(
        labelled(`result=${ok}`, () => ({ result: ok })),
        seconds,
      )
      batchSize(base, ops)
    },
    deadLetter() {
      flushOps(outcome('dead_lettered'), 1)
    },
    fsync(seconds) {
      fsync(base, seconds)
    },
    backlogFull() {
      backlogFull(base, 1)
    },
  }
}
