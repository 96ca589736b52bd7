/**
 * The metrics one registry holds for every cache registered on it under one prefix: created with
 * the first cache, shared by the next ones (each with its own `cache` label value), removed from
 * the registry with the last one. The registry stays the user's: nothing here resets it, and only
 * metrics made here are ever removed from it.
 *
 * What a write costs is kept to a few additions: a counter's series tallies its increments in
 * place and hands them to the prom-client `Counter` in its `collect()`, at scrape time; a
 * histogram is a `LocalHistogram`. Gauges read each member cache's `stats()` in their `collect()`.
 */
import type * as PromClient from 'prom-client'
import { MetricsRegistrationError } from '../errors.js'
import { INSTRUMENT_LIST, type Instrument, type InstrumentId } from '../metrics/instruments.js'
import { GAUGE_READINGS, type GaugeId, type MeteredCache } from '../metrics/readings.js'
import type { Labels, Recorder } from '../metrics/sink.js'
import { LocalHistogram } from './local-histogram.js'
import type { PrometheusRegistryLike } from './registry.js'

/** A metric made here. */
export type FamilyMetric = PromClient.Counter | PromClient.Gauge | LocalHistogram

/** A registered cache: its static labels (`cache` included). */
export interface Member {
  readonly cache: MeteredCache
  readonly labels: Labels
}

/** A counter series' increments since the last scrape. */
interface Tally {
  readonly labels: Labels
  pending: number
}

export class Family {
  readonly members = new Map<string, Member>()
  private readonly metrics = new Map<InstrumentId, FamilyMetric>()
  private readonly tallies = new Map<InstrumentId, Set<Tally>>()

  constructor(
    private readonly register: PrometheusRegistryLike,
    private readonly prefix: string,
    /** Static label names (`cache` first), the same for every member. */
    readonly labelNames: readonly string[],
  ) {}

  /** Makes the metrics missing from the registry (all of them for the first member); throws on a name held by a metric not made here. */
  ensureMetrics(client: typeof PromClient, cache: string): void {
    const missing = INSTRUMENT_LIST.filter((instrument) => {
      const held = this.register.getSingleMetric(this.prefix + instrument.name)
      if (held !== undefined && held !== this.metrics.get(instrument.id)) throw new MetricsRegistrationError('E_METRICS_CONFLICT', cache, this.prefix + instrument.name)
      return held === undefined
    })
    for (const instrument of missing) this.metrics.set(instrument.id, this.make(client, instrument))
  }

  /** The recorder of a counter series, which starts at 0. */
  counter(id: InstrumentId, labels: Labels): Recorder {
    const tally: Tally = { labels, pending: 0 }
    let set = this.tallies.get(id)
    if (set === undefined) this.tallies.set(id, (set = new Set()))
    set.add(tally)
    ;(this.metrics.get(id) as PromClient.Counter).inc(labels, 0)
    return (value) => {
      tally.pending += value
    }
  }

  /** The recorder of a histogram series. */
  histogram(id: InstrumentId, labels: Labels): Recorder {
    return (this.metrics.get(id) as LocalHistogram).recorder(labels)
  }

  /** Removes the member's series (every combination of each metric's label values) and its tallies. */
  removeSeries(member: Member, combinations: (instrument: Instrument) => Array<Record<string, string>>): void {
    for (const instrument of INSTRUMENT_LIST) {
      const metric = this.metrics.get(instrument.id)
      for (const combination of combinations(instrument)) metric?.remove({ ...member.labels, ...combination })
      for (const tally of this.tallies.get(instrument.id) ?? []) if (tally.labels.cache === member.labels.cache) this.tallies.get(instrument.id)?.delete(tally)
    }
  }

  /** Removes every metric made here from the registry (when the last member left). */
  removeMetrics(): void {
    for (const instrument of INSTRUMENT_LIST) {
      const name = this.prefix + instrument.name
      if (this.register.getSingleMetric(name) === this.metrics.get(instrument.id)) this.register.removeSingleMetric(name)
    }
    this.metrics.clear()
    this.tallies.clear()
  }

  private make(client: typeof PromClient, instrument: Instrument & { readonly id: InstrumentId }): FamilyMetric {
    const name = this.prefix + instrument.name
    const labelNames = [...this.labelNames, ...instrument.labels]
    const registers = [this.register as unknown as PromClient.Registry]
    if (instrument.kind === 'histogram') {
      const histogram = new LocalHistogram(name, instrument.help, instrument.buckets ?? [])
      this.register.registerMetric(histogram as never)
      return histogram
    }
    if (instrument.kind === 'counter') {
      const tallies = this.tallies
      return new client.Counter({
        name,
        help: instrument.help,
        labelNames,
        registers,
        collect(this: PromClient.Counter) {
          for (const tally of tallies.get(instrument.id) ?? []) {
            if (tally.pending === 0) continue
            this.inc(tally.labels, tally.pending)
            tally.pending = 0
          }
        },
      })
    }
    const members = this.members
    const read = GAUGE_READINGS[instrument.id as GaugeId]
    return new client.Gauge({
      name,
      help: instrument.help,
      labelNames,
      registers,
      collect(this: PromClient.Gauge) {
        for (const member of members.values()) {
          const value = read(member.cache.stats())
          if (value === undefined) this.remove(member.labels)
          else this.set(member.labels, value)
        }
      },
    })
  }
}
