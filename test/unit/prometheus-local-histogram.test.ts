/**
 * LocalHistogram (the Prometheus adapter's histogram, which records a write in place) against
 * prom-client's own Histogram fed the same observations: the same exposition, bound values
 * included (an observation equal to a bound counts in that bucket), and `resetMetrics()` and
 * `remove()` behave as prom-client's do.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Histogram, Registry } from 'prom-client'
import { LocalHistogram } from '../../src/prometheus/local-histogram.js'
import { seededRandom } from '../../src/testing/seeded-random.js'
import { parseExposition, type Sample } from '../helpers/exposition.js'

const BOUNDS = [0.001, 0.005, 0.01, 0.1, 1]

/** Samples in a stable order, with `le` normalised, for comparing two registries' text. */
async function samples(register: Registry): Promise<string[]> {
  const key = (s: Sample): string =>
    `${s.name}{${Object.keys(s.labels)
      .sort()
      .map((k) => `${k}=${k === 'le' ? String(Number(s.labels[k])) : s.labels[k]}`)
      .join(',')}} ${s.value}`
  return parseExposition(await register.metrics())
    .samples.map(key)
    .sort()
}

describe('LocalHistogram', () => {
  it("reports what prom-client's Histogram reports for the same observations", async () => {
    const theirs = new Registry()
    const ours = new Registry()
    const reference = new Histogram({ name: 'h_seconds', help: 'help', labelNames: ['cache', 'durability'], buckets: BOUNDS, registers: [theirs] })
    const local = new LocalHistogram('h_seconds', 'help', BOUNDS)
    ours.registerMetric(local as never)
    const random = seededRandom(42)
    const sets = [
      { cache: 'a', durability: 'log' },
      { cache: 'a', durability: 'disk' },
      { cache: 'b', durability: 'log' },
    ]
    const recorders = sets.map((labels) => local.recorder(labels))
    for (let i = 0; i < 2000; i++) {
      const which = Math.floor(random() * sets.length)
      const value = i % 10 === 0 ? (BOUNDS[i % BOUNDS.length] as number) : random() * random() * 2
      reference.observe(sets[which] as Record<string, string>, value)
      recorders[which]?.(value)
    }
    assert.deepEqual(await samples(ours), await samples(theirs))
    assert.equal(
      (await theirs.metrics())
        .split('\n')
        .filter((l) => l.startsWith('# TYPE'))
        .join(),
      (await ours.metrics())
        .split('\n')
        .filter((l) => l.startsWith('# TYPE'))
        .join(),
    )

    local.remove({ durability: 'disk', cache: 'a' })
    reference.remove({ cache: 'a', durability: 'disk' })
    assert.deepEqual(await samples(ours), await samples(theirs))
    ours.resetMetrics()
    theirs.resetMetrics()
    assert.ok((await samples(ours)).every((line) => line.endsWith(' 0')))
    recorders[0]?.(0.002)
    assert.ok((await samples(ours)).includes('h_seconds_count{cache=a,durability=log} 1'))
  })
})
