/**
 * writebehind/otel through the real OpenTelemetry SDK (a MeterProvider whose reader exports to
 * the SDK's in-memory exporter): the instruments' kinds and units are the table's, their values
 * agree with `stats()`, the global API is a no-op until an SDK is installed, and the names give
 * the native adapter's under the OpenTelemetry spec's Prometheus translation (implemented below
 * from the spec's "Prometheus and OpenMetrics Compatibility" rules).
 */
import { afterEach, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { metrics } from '@opentelemetry/api'
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus'
import { AggregationTemporality, DataPointType, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type MetricData } from '@opentelemetry/sdk-metrics'
import { MemoryStore, MetricsRegistrationError, type WriteBehindCache } from '../../src/index.js'
import { registerOpenTelemetry } from '../../src/otel/index.js'
import { INSTRUMENT_LIST } from '../../src/metrics/instruments.js'
import { FakeClock } from '../../src/testing/fake-clock.js'
import { openTestCache } from '../helpers/open.js'
import { parseExposition } from '../helpers/exposition.js'

/** UCUM units to the Prometheus unit words the spec's translation appends. */
const UNIT_WORDS: Record<string, string> = { s: 'seconds', ms: 'milliseconds', By: 'bytes', KiBy: 'kibibytes', '%': 'percent' }

/**
 * The OpenTelemetry-to-Prometheus metric name translation (spec: compatibility/prometheus_and_openmetrics):
 * characters other than [a-zA-Z0-9_:] become `_`, repeated underscores collapse; a unit in braces
 * (an annotation) is dropped, a UCUM unit becomes its word and is appended unless the name
 * already ends with it; unit `1` on a gauge appends `_ratio`; a monotonic sum (counter) gets `_total`.
 */
function prometheusName(name: string, unit: string, kind: 'counter' | 'gauge' | 'histogram'): string {
  let out = name.replace(/[^a-zA-Z0-9_:]/g, '_').replace(/_+/g, '_')
  const word = unit === '1' ? (kind === 'gauge' ? 'ratio' : '') : /^\{.*\}$/.test(unit) ? '' : (UNIT_WORDS[unit] ?? unit.replace(/[^a-zA-Z0-9]/g, ''))
  if (word !== '' && !out.endsWith(`_${word}`)) out += `_${word}`
  if (kind === 'counter' && !out.endsWith('_total')) out += '_total'
  return out
}

function sdk(): { provider: MeterProvider; collect: () => Promise<Map<string, MetricData>> } {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
  const provider = new MeterProvider({ readers: [reader] })
  return {
    provider,
    async collect() {
      exporter.reset()
      await reader.forceFlush()
      const scopes = exporter.getMetrics().at(-1)?.scopeMetrics ?? []
      return new Map(scopes.filter((s) => s.scope.name === 'writebehind').flatMap((s) => s.metrics.map((m) => [m.descriptor.name, m] as const)))
    },
  }
}

/** The sum of a metric's points whose attributes include `where` (histograms: their counts). */
function total(metric: MetricData | undefined, where: Record<string, string> = {}): number {
  let sum = 0
  for (const point of (metric?.dataPoints ?? []) as Array<{ attributes: Record<string, unknown>; value: unknown }>) {
    if (!Object.entries(where).every(([k, v]) => point.attributes[k] === v)) continue
    sum += typeof point.value === 'number' ? point.value : (point.value as { count: number }).count
  }
  return sum
}

async function flushOn(cache: WriteBehindCache, clock: FakeClock): Promise<void> {
  const flushing = cache.flush()
  for (let i = 0; i < 50; i++) await clock.advance(100)
  await flushing
}

describe('registerOpenTelemetry', () => {
  afterEach(() => metrics.disable())

  it('names every instrument so that the spec translation gives the Prometheus adapter’s name', () => {
    for (const instrument of INSTRUMENT_LIST) {
      assert.equal(prometheusName(instrument.otelName, instrument.otelUnit, instrument.kind), `writebehind_${instrument.name}`, instrument.otelName)
    }
    assert.equal(prometheusName('system.filesystem.usage', 'By', 'gauge'), 'system_filesystem_usage_bytes', 'the spec’s own example')
    assert.equal(prometheusName('system.network.dropped', '{packets}', 'counter'), 'system_network_dropped_total')
    assert.equal(prometheusName('system.memory.utilization', '1', 'gauge'), 'system_memory_utilization_ratio')
  })

  it('publishes the table’s instruments, kinds and units, with values that agree with stats()', async () => {
    const { provider, collect } = sdk()
    const { cache, clock } = await openTestCache(new MemoryStore(), { name: 'orders', flush: { intervalMs: 60_000 } })
    const handle = registerOpenTelemetry(cache, { meterProvider: provider, attributes: { service: 'api' } })
    for (let i = 0; i < 30; i++) await cache.set(`k${i % 4}`, i)
    await cache.delete('k0')
    const pending = await collect()
    assert.equal(total(pending.get('writebehind.backlog.entries'), { cache: 'orders', service: 'api' }), cache.stats().backlog.entries)
    assert.ok(cache.stats().backlog.entries > 0)
    await flushOn(cache, clock)
    const collected = await collect()
    const stats = cache.stats()
    const kinds = { counter: DataPointType.SUM, gauge: DataPointType.GAUGE, histogram: DataPointType.HISTOGRAM }
    for (const instrument of INSTRUMENT_LIST.filter((i) => i.id !== 'logBytes' && i.id !== 'logSegments' && i.id !== 'fsyncDuration')) {
      const metric = collected.get(instrument.otelName)
      assert.ok(metric !== undefined, `${instrument.otelName} was exported`)
      assert.equal(metric.dataPointType, kinds[instrument.kind], instrument.otelName)
      assert.equal(metric.descriptor.unit, instrument.otelUnit, instrument.otelName)
      if (metric.dataPointType === DataPointType.SUM) assert.equal(metric.isMonotonic, true)
    }
    assert.equal(total(collected.get('writebehind.writes'), { op: 'set', durability: 'memory', result: 'ok' }), 30)
    assert.equal(total(collected.get('writebehind.writes'), { result: 'ok' }), stats.writes)
    assert.equal(total(collected.get('writebehind.ack.duration'), { durability: 'memory' }), stats.ack.memory.count)
    assert.equal(total(collected.get('writebehind.flush.ops'), { outcome: 'applied' }) + total(collected.get('writebehind.flush.ops'), { outcome: 'fenced' }), stats.flush.ops + stats.flush.superseded)
    assert.equal(total(collected.get('writebehind.flush.duration')), stats.flush.batchDuration.count)
    assert.equal(total(collected.get('writebehind.backlog.entries')), 0)
    assert.equal(total(collected.get('writebehind.backlog.max.entries')), stats.backlog.maxEntries)
    const bounds = (collected.get('writebehind.ack.duration')?.dataPoints[0]?.value as { buckets: { boundaries: number[] } }).buckets.boundaries
    assert.deepEqual(bounds, INSTRUMENT_LIST.find((i) => i.id === 'ackDuration')?.buckets)

    handle.unregister()
    handle.unregister()
    await cache.set('after', 1)
    const later = await collect()
    assert.equal(total(later.get('writebehind.writes'), { result: 'ok' }), stats.writes, 'nothing is counted after unregister')
    await cache.close()
    await provider.shutdown()
  })

  it('is a no-op through the global API until an SDK is installed, then publishes there', async () => {
    const { cache } = await openTestCache(new MemoryStore(), { name: 'global' })
    const noop = registerOpenTelemetry(cache)
    await cache.set('k', 1)
    noop.unregister()
    const { provider, collect } = sdk()
    metrics.setGlobalMeterProvider(provider)
    const handle = registerOpenTelemetry(cache)
    await cache.set('k', 2)
    assert.equal(total((await collect()).get('writebehind.writes'), { cache: 'global' }), 1)
    handle.unregister()
    await cache.close()
    await provider.shutdown()
  })

  it('refuses a second cache of the same name on one provider', async () => {
    const { provider } = sdk()
    const { cache } = await openTestCache(new MemoryStore(), { name: 'same' })
    const { cache: twin } = await openTestCache(new MemoryStore(), { name: 'same' })
    const handle = registerOpenTelemetry(cache, { meterProvider: provider })
    assert.throws(
      () => registerOpenTelemetry(twin, { meterProvider: provider }),
      (error: unknown) => error instanceof MetricsRegistrationError && error.code === 'E_METRICS_DUPLICATE',
    )
    handle.unregister()
    registerOpenTelemetry(twin, { meterProvider: provider }).unregister()
    assert.throws(() => registerOpenTelemetry(cache, { meterProvider: provider, attributes: { op: 'x' } }), { code: 'E_INVALID_OPTION', option: 'attributes.op' })
    await cache.close()
    await twin.close()
    await provider.shutdown()
  })

  it('through @opentelemetry/exporter-prometheus, gives the table’s names but for the unit suffix that exporter leaves out', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
    const provider = new MeterProvider({ readers: [reader] })
    const { cache, clock } = await openTestCache(new MemoryStore(), { name: 'js' })
    const handle = registerOpenTelemetry(cache, { meterProvider: provider })
    await cache.set('k', 1)
    await flushOn(cache, clock)
    await reader.forceFlush()
    const resourceMetrics = exporter.getMetrics().at(-1)
    assert.ok(resourceMetrics !== undefined)
    const text = new PrometheusSerializer(undefined, false, undefined, true, true).serialize(resourceMetrics)
    const families = [...parseExposition(text).types.keys()].sort()
    const expected = INSTRUMENT_LIST.filter((i) => !i.id.startsWith('log') && i.id !== 'fsyncDuration').map((i) => prometheusName(i.otelName, i.otelUnit.startsWith('{') ? i.otelUnit : '', i.kind))
    assert.deepEqual(families, expected.sort())
    handle.unregister()
    await cache.close()
    await provider.shutdown()
  })
})
