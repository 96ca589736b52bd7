/**
 * The metrics one registry holds for every cache registered on it under one prefix: created with
 * the first cache, shared by the next ones (each with its own `cache` label value), removed from
 * the registry with the last one. The registry stays the user's: nothing here resets it, and only
 * metrics made here are ever removed from it.
 *
 * Gauges read each member cache's `stats()` in their `collect()`, at scrape time; counters and
 * histograms are fed by each member's channel subscriber (register.ts).
 */
import type * as PromClient from 'prom-client'
import { MetricsRegistrationError } from '../errors.js'
import { INSTRUMENT_LIST, type Instrument, type InstrumentId } from '../metrics/instruments.js'
import { GAUGE_READINGS, type GaugeId, type MeteredCache } from '../metrics/readings.js'
import type { PrometheusRegistryLike } from './registry.js'

/** A metric made here. */
export type FamilyMetric = PromClient.Counter | PromClient.Histogram | PromClient.Gauge

/** A registered cache: its static labels (`cache` included). */
export interface Member {
  readonly cache: MeteredCache
  readonly labels: Readonly<Record<string, string>>
}

export class Family {
  readonly members = new Map<string, Member>()
  readonly metrics = new Map<InstrumentId, FamilyMetric>()

  constructor(
    private readonly register: PrometheusRegistryLike,
    private readonly prefix: string,
    /** Static label names (`cache` first), the same for every member. */
    readonly labelNames: readonly string[],
  ) {}

  /** Makes the metrics missing from the registry (all of them for the first member); throws on a name held by a metric not made here. */
  ensureMetrics(client: typeof PromClient, cache: string): void {
    for (const instrument of INSTRUMENT_LIST) {
      const name = this.prefix + instrument.name
      const held = this.register.getSingleMetric(name)
      const mine = this.metrics.get(instrument.id)
      if (held !== undefined && held === mine) continue
      if (held !== undefined) throw new MetricsRegistrationError('E_METRICS_CONFLICT', cache, name)
      const config = { name, help: instrument.help, labelNames: [...this.labelNames, ...instrument.labels], registers: [this.register as unknown as PromClient.Registry] }
      this.metrics.set(instrument.id, this.make(client, instrument, config))
    }
  }

  /** The metric of `id` (made by `ensureMetrics`). */
  metric(id: InstrumentId): FamilyMetric {
    return this.metrics.get(id) as FamilyMetric
  }

  /** Removes every metric made here from the registry (when the last member left). */
  removeMetrics(): void {
    for (const instrument of INSTRUMENT_LIST) {
      const name = this.prefix + instrument.name
      if (this.register.getSingleMetric(name) === this.metrics.get(instrument.id)) this.register.removeSingleMetric(name)
    }
    this.metrics.clear()
  }

  private make(client: typeof PromClient, instrument: Instrument & { readonly id: InstrumentId }, config: PromClient.MetricConfiguration<string>): FamilyMetric {
    if (instrument.kind === 'counter') return new client.Counter(config)
    if (instrument.kind === 'histogram') return new client.Histogram({ ...config, buckets: [...(instrument.buckets ?? [])] })
    const members = this.members
    const read = GAUGE_READINGS[instrument.id as GaugeId]
    return new client.Gauge({
      ...config,
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
