/**
 * `registerOpenTelemetry(cache, options)`: the instruments of the Prometheus adapter, through the
 * OpenTelemetry metrics API only. Without a `meterProvider` it takes the global one from
 * `@opentelemetry/api`, which is a no-op until the app installs an SDK. Names and units are chosen
 * so that the standard OpenTelemetry-to-Prometheus translation (`.` to `_`, the unit as a suffix,
 * `_total` on counters) gives the native adapter's names: `writebehind.ack.duration` in `s` is
 * scraped as `writebehind_ack_duration_seconds`.
 *
 * Counters and histograms are fed by the cache's diagnostics channels from this call on: a
 * counter series tallies in place and is reported by an observable counter (so a write costs an
 * addition, not an SDK call), a histogram records each observation; gauges are observed from one
 * `cache.stats()` per collection. Every data point carries the `cache` attribute (the cache's
 * `name`).
 */
import type * as OtelApi from '@opentelemetry/api'
import { MetricsRegistrationError } from '../errors.js'
import { checkLabels, checkMeteredCache } from '../metrics/check.js'
import { subscribeMetrics } from '../metrics/feed.js'
import { INSTRUMENT_LIST, type InstrumentId } from '../metrics/instruments.js'
import { loadPeer } from '../metrics/peer.js'
import { GAUGE_READINGS, type GaugeId, type MeteredCache } from '../metrics/readings.js'
import { metricsSink, type Recorders } from '../metrics/sink.js'

/** The part of an OpenTelemetry `MeterProvider` the adapter calls (any SDK's provider fits). */
export interface MeterProviderLike {
  getMeter(name: string, version?: string): unknown
}

export interface OpenTelemetryOptions {
  /** Where to get the `writebehind` meter. @default the global provider of `@opentelemetry/api` (a no-op until an SDK is installed) */
  meterProvider?: MeterProviderLike
  /** Attributes added to every data point of this cache (`{ service: 'api' }`). Not `cache`, `op`, `durability`, `result`, `outcome` or `le`. @default {} */
  attributes?: Readonly<Record<string, string>>
}

/** What `registerOpenTelemetry` returns. */
export interface OpenTelemetryHandle {
  /** Stops feeding the instruments and observing the gauges. The SDK keeps the cumulative points it has. Safe to call twice. */
  unregister(): void
}

/** The meter's name (the instrumentation scope). */
export const METER_NAME = 'writebehind'

/** Cache names registered, by provider. */
const registered = new WeakMap<object, Set<string>>()

/** Publishes `cache`'s metrics through the OpenTelemetry metrics API; see the module header. */
export function registerOpenTelemetry(cache: MeteredCache, options: OpenTelemetryOptions = {}): OpenTelemetryHandle {
  checkMeteredCache(cache)
  const extra = checkLabels(options.attributes, 'attributes')
  const provider = options.meterProvider ?? loadPeer<typeof OtelApi>('@opentelemetry/api', 'registerOpenTelemetry').metrics.getMeterProvider()
  const name = cache.name
  let names = registered.get(provider)
  if (names === undefined) registered.set(provider, (names = new Set()))
  if (names.has(name)) throw new MetricsRegistrationError('E_METRICS_DUPLICATE', name)
  const meter = provider.getMeter(METER_NAME) as OtelApi.Meter
  const attributes = Object.freeze({ cache: name, ...extra })
  const instruments = makeInstruments(meter)
  const gauges = INSTRUMENT_LIST.filter((i) => i.source === 'stats').map((i) => [i.id as GaugeId, instruments.get(i.id) as OtelApi.ObservableGauge] as const)
  // Counters are observable: each series tallies in place, and the collection reads the totals.
  const tallies: Array<{ readonly counter: OtelApi.ObservableCounter; readonly labels: OtelApi.Attributes; total: number }> = []
  const observe: OtelApi.BatchObservableCallback = (result) => {
    const stats = cache.stats()
    for (const [id, gauge] of gauges) {
      const value = GAUGE_READINGS[id](stats)
      if (value !== undefined) result.observe(gauge, value, attributes)
    }
    for (const tally of tallies) result.observe(tally.counter, tally.total, tally.labels)
  }
  const observables = [...gauges.map(([, gauge]) => gauge), ...INSTRUMENT_LIST.filter((i) => i.kind === 'counter').map((i) => instruments.get(i.id) as OtelApi.ObservableCounter)]
  meter.addBatchObservableCallback(observe, observables)
  const recorders: Recorders = {
    counter: (id, labels) => {
      const tally = { counter: instruments.get(id) as OtelApi.ObservableCounter, labels, total: 0 }
      tallies.push(tally)
      return (value) => {
        tally.total += value
      }
    },
    histogram: (id, labels) => {
      const instrument = instruments.get(id) as OtelApi.Histogram
      return (value) => instrument.record(value, labels)
    },
  }
  const unsubscribe = subscribeMetrics(name, metricsSink(recorders, attributes, cache.recovery?.records ?? 0))
  names.add(name)
  let active = true
  return {
    unregister() {
      if (!active) return
      active = false
      unsubscribe()
      meter.removeBatchObservableCallback(observe, observables)
      registered.get(provider)?.delete(name)
    },
  }
}

type OtelInstrument = OtelApi.ObservableCounter | OtelApi.Histogram | OtelApi.ObservableGauge

function makeInstruments(meter: OtelApi.Meter): Map<InstrumentId, OtelInstrument> {
  const made = new Map<InstrumentId, OtelInstrument>()
  for (const instrument of INSTRUMENT_LIST) {
    const options = { description: instrument.help, unit: instrument.otelUnit }
    if (instrument.kind === 'counter') made.set(instrument.id, meter.createObservableCounter(instrument.otelName, options))
    else if (instrument.kind === 'gauge') made.set(instrument.id, meter.createObservableGauge(instrument.otelName, options))
    else made.set(instrument.id, meter.createHistogram(instrument.otelName, { ...options, advice: { explicitBucketBoundaries: [...(instrument.buckets ?? [])] } }))
  }
  return made
}
