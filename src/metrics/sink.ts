/**
 * The one `MetricsSink` both adapters use: it turns the cache's messages into increments and
 * observations of the instruments table, on the recorders an adapter provides (prom-client
 * metrics, OpenTelemetry instruments). A recorder is made once per instrument and label set and
 * reused, so a write builds no label set and looks none up by hashing; `cache` and the adapter's
 * static labels are in every set.
 */
import type { WriteMessage } from '../contracts/diagnostics.js'
import type { MetricsSink } from './feed.js'
import { LABEL_VALUES, type InstrumentId, type INSTRUMENTS } from './instruments.js'

export type Labels = Readonly<Record<string, string>>

type IdOfKind<K extends string> = { [I in InstrumentId]: (typeof INSTRUMENTS)[I]['kind'] extends K ? I : never }[InstrumentId]
export type CounterId = IdOfKind<'counter'>
export type HistogramId = IdOfKind<'histogram'>

/** Adds to a counter, or records an observation in a histogram, for the label set it was made for. */
export type Recorder = (value: number) => void

/** How an adapter increments its counters and observes its histograms, per label set. */
export interface Recorders {
  /** The recorder of a counter's series; making it creates the series at 0. */
  counter(id: CounterId, labels: Labels): Recorder
  histogram(id: HistogramId, labels: Labels): Recorder
}

/** The sink that feeds `recorders` with `base` labels; counters an alert watches start at 0, and the replay `open()` made is counted. */
export function metricsSink(recorders: Recorders, base: Labels, recoveredRecords: number): MetricsSink {
  const made = new Map<string, Recorder>()
  const recorder = (kind: 'counter' | 'histogram', id: CounterId | HistogramId, key: string, extra: () => Labels): Recorder => {
    const cacheKey = `${id}|${key}`
    let found = made.get(cacheKey)
    if (found === undefined) {
      const labels = Object.freeze({ ...base, ...extra() })
      found = kind === 'counter' ? recorders.counter(id as CounterId, labels) : recorders.histogram(id as HistogramId, labels)
      made.set(cacheKey, found)
    }
    return found
  }
  const none = (): Labels => ({})
  const outcome = (value: string): Recorder => recorder('counter', 'flushOps', value, () => ({ outcome: value }))
  for (const value of LABEL_VALUES.outcome) outcome(value)
  const backlogFull = recorder('counter', 'backlogFull', '', none)
  recorder('counter', 'recoveredRecords', '', none)(recoveredRecords)
  const batchSize = recorder('histogram', 'flushBatchSize', '', none)
  const fsync = recorder('histogram', 'fsyncDuration', '', none)
  // A write's recorders by op then durability, so the hot path builds no key: [ok, failed, ack].
  const byOp = new Map<string, Map<string, readonly [Recorder, Recorder, Recorder]>>()
  const writeRecorders = (op: string, durability: string): readonly [Recorder, Recorder, Recorder] => {
    let byDurability = byOp.get(op)
    if (byDurability === undefined) byOp.set(op, (byDurability = new Map<string, readonly [Recorder, Recorder, Recorder]>()))
    let found = byDurability.get(durability)
    if (found === undefined) {
      const counted = (result: string): Recorder => recorder('counter', 'writes', `${op}|${durability}|${result}`, () => ({ op, durability, result }))
      byDurability.set(durability, (found = [counted('ok'), counted('failed'), recorder('histogram', 'ackDuration', durability, () => ({ durability }))]))
    }
    return found
  }
  return {
    write(m: WriteMessage, seconds: number) {
      const [ok, failed, ack] = byOp.get(m.op)?.get(m.durability) ?? writeRecorders(m.op, m.durability)
      if (m.ok) {
        ok(1)
        ack(seconds)
      } else failed(1)
    },
    batch(ops, result, seconds) {
      if (result.applied > 0) outcome('applied')(result.applied)
      if (result.fenced > 0) outcome('fenced')(result.fenced)
      if (result.failed > 0) outcome('failed')(result.failed)
      const ok = result.failed > 0 ? 'failed' : 'ok'
      recorder('histogram', 'flushDuration', ok, () => ({ result: ok }))(seconds)
      batchSize(ops)
    },
    deadLetter() {
      outcome('dead_lettered')(1)
    },
    fsync(seconds) {
      fsync(seconds)
    },
    backlogFull() {
      backlogFull(1)
    },
  }
}
