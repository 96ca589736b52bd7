// Tests of the benchmark's own arithmetic: key generators, percentiles, medians and the
// within-run ratios of the report. Run with `npm test -- bench/harness.test.ts`.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runLoad, type Arrival } from './driver.js'
import { renderReport, summarise, targets } from './lib/report.js'
import type { RunResult } from './lib/result.js'
import { latencySummary, median, medianRatio } from './lib/stats.js'
import type { BenchSystem, BenchValue } from './systems/types.js'
import { bursts, sampleCdf, seededRandom, uniform, zipf, zipfCdf } from './workloads.js'

describe('workloads', () => {
  it('builds a Zipf CDF that rises to 1', () => {
    const cdf = zipfCdf(1000, 1.1)
    assert.equal(cdf[cdf.length - 1], 1)
    for (let i = 1; i < cdf.length; i++) assert.ok(cdf[i]! > cdf[i - 1]!)
  })

  it('samples the CDF by bucket, edges included', () => {
    const cdf = Float64Array.from([0.5, 0.75, 1])
    assert.equal(sampleCdf(cdf, 0), 0)
    assert.equal(sampleCdf(cdf, 0.5), 0)
    assert.equal(sampleCdf(cdf, 0.6), 1)
    assert.equal(sampleCdf(cdf, 0.9999), 2)
  })

  it('gives the top player the Zipf share of updates', () => {
    const cdf = zipfCdf(100_000, 1.1)
    const expected = cdf[0]!
    const random = seededRandom(7)
    let top = 0
    const n = 200_000
    for (let i = 0; i < n; i++) if (sampleCdf(cdf, random()) === 0) top += 1
    assert.ok(Math.abs(top / n - expected) < 0.005, `top share ${top / n} vs ${expected}`)
    assert.ok(expected > 0.1 && expected < 0.2)
  })

  it("repeats a writer's key stream and differs between writers", () => {
    const take = (w: number, n = 50): string[] => {
      const stream = zipf(1000).keys(w)
      return Array.from({ length: n }, () => stream.next())
    }
    assert.deepEqual(take(3), take(3))
    assert.notDeepEqual(take(3), take(4))
    assert.ok(take(0).every((k) => /^player:\d+$/.test(k)))
  })

  it('keeps uniform keys inside the key space', () => {
    const stream = uniform(10).keys(0)
    const seen = new Set(Array.from({ length: 1000 }, () => stream.next()))
    assert.equal(seen.size, 10)
  })

  it('pauses bursts writers only in the off phase, until it ends', () => {
    const w = bursts(100, 1000, 500)
    assert.equal(w.pauseAt(0), 0)
    assert.equal(w.pauseAt(999), 0)
    assert.equal(w.pauseAt(1000), 500)
    assert.equal(w.pauseAt(1400), 100)
    assert.equal(w.pauseAt(1500), 0)
  })
})

describe('statistics', () => {
  it('takes nearest-rank percentiles', () => {
    const values = Float64Array.from({ length: 1000 }, (_, i) => 1000 - i)
    assert.deepEqual(latencySummary(values), { p50: 500, p99: 990, p999: 999 })
    assert.ok(Number.isNaN(latencySummary(new Float64Array(0)).p50))
  })

  it('takes medians of finite values', () => {
    assert.equal(median([3, 1, 2]), 2)
    assert.equal(median([4, 1, 3, 2]), 2.5)
    assert.equal(median([Number.NaN, 5]), 5)
    assert.ok(Number.isNaN(median([])))
  })

  it('takes ratios within each run, then their median (not the ratio of the medians)', () => {
    // Run 2 is slow for both figures; its ratio counts like the others'.
    assert.equal(medianRatio([60, 10, 75], [100, 20, 150]), 0.5)
    assert.equal(median([60, 10, 75]) / median([100, 20, 150]), 0.6)
    assert.throws(() => medianRatio([1, 2], [1]), RangeError)
  })
})

function result(system: string, run: number, writesPerSec: number, p99Ms: number, over: Partial<RunResult> = {}): RunResult {
  return {
    system,
    workload: 'zipf',
    run,
    acked: 1000,
    failed: 0,
    keys: 100,
    loadMs: 1000,
    writesPerSec,
    p50Ms: p99Ms / 2,
    p99Ms,
    p999Ms: p99Ms * 2,
    dbStatements: 10,
    dbRows: 500,
    pgStatRows: 500,
    coalescing: 2,
    drainMs: 10,
    peakRssMb: 100,
    correct: true,
    verifyNote: 'ok',
    ...over,
  }
}

describe('report', () => {
  // direct-1 is twice as fast in run 2; the ratio must follow it, run by run.
  const runs = [
    result('direct-1', 1, 100, 50),
    result('writebehind-log', 1, 20_000, 0.5),
    result('direct-1', 2, 200, 40),
    result('writebehind-log', 2, 30_000, 0.2),
    result('direct-1', 3, 100, 50),
    result('writebehind-log', 3, 10_000, 1, { correct: false }),
  ]

  it('takes ratios within each run, then the median', () => {
    const [base, wb] = summarise(runs, ['direct-1', 'writebehind-log'], 'direct-1')
    assert.equal(base!.speedup, 1)
    assert.equal(wb!.writesPerSec, 20_000)
    assert.deepEqual(wb!.writesPerSecRange, [10_000, 30_000])
    assert.equal(wb!.speedup, 150) // median of 200, 150, 100
    assert.equal(wb!.p99Gain, 100) // median of 100, 200, 50
    assert.equal(wb!.bestCoalescing, 10)
    assert.equal(wb!.correct, false)
  })

  it('checks the targets and says which are not met', () => {
    const lines = targets(new Map([['zipf', summarise(runs, ['direct-1', 'writebehind-log'], 'direct-1')]]))
    assert.ok(lines.some((l) => l.includes('150× direct-1') && l.endsWith(': met')))
    assert.ok(lines.some((l) => l.includes('50.0% fewer') && l.includes('**not met**')))
    assert.ok(lines.some((l) => l.includes('final state') && l.includes('**not met**')))
  })

  it("names PostgreSQL's own ceiling next to the throughput target where rows are writes, not on zipf", () => {
    const uniform = (r: RunResult): RunResult => ({ ...r, workload: 'uniform' })
    const probe = [result('pg-ceiling', 1, 4_000, Number.NaN), result('pg-ceiling', 2, 8_000, Number.NaN), result('pg-ceiling', 3, 4_000, Number.NaN)]
    const all = [...runs, ...probe].map(uniform)
    const lines = targets(new Map([['uniform', summarise(all, ['direct-1', 'writebehind-log', 'pg-ceiling'], 'direct-1')]]))
    const line = lines.find((l) => l.includes('throughput') && l.includes('direct-1 (target'))!
    assert.match(line, /ceiling in this run .* was 4,000 rows\/s, 40× direct-1/)
    assert.match(line, /writebehind-log ran at 500% of that ceiling/)
    const zipf = targets(new Map([['zipf', summarise([...runs, ...probe], ['direct-1', 'writebehind-log', 'pg-ceiling'], 'direct-1')]]))
    assert.ok(
      zipf.every((l) => !l.includes('ceiling')),
      'coalescing makes the row ceiling moot on zipf',
    )
    const md = renderReport(
      {
        command: 'c',
        date: 'd',
        machine: { cpu: 'x', cores: 2, memoryGb: 1, os: 'y', node: 'v20', postgres: '15', redis: '7', bullmq: '5' },
        settings: 's',
        workloads: [{ name: 'uniform', description: 'u' }],
        systems: ['direct-1', 'pg-ceiling'],
        baseline: 'direct-1',
      },
      all,
    )
    assert.match(md, /\| pg-ceiling \| 4,000 \| 4,000–8,000 \| 40× \| — \| — \| — \| — \|/)
  })

  it('renders a mismatch and an error loudly', () => {
    const failed = result('bullmq', 1, Number.NaN, Number.NaN, { error: 'drain did not finish' })
    const machine = { cpu: 'x', cores: 2, memoryGb: 1, os: 'y', node: 'v20', postgres: '15', redis: '7', bullmq: '5' }
    const md = renderReport(
      { command: 'npm run bench', date: 'today', machine, settings: 's', workloads: [{ name: 'zipf', description: 'z' }], systems: ['direct-1', 'writebehind-log', 'bullmq'], baseline: 'direct-1' },
      [...runs, failed],
    )
    assert.match(md, /\| writebehind-log \|.*\*\*MISMATCH\*\* \|/)
    assert.match(md, /\| bullmq \|.*ERROR: drain did not finish \|/)
    assert.match(md, /npm run bench/)
  })
})

describe('driver', () => {
  // A system whose ack waits for setImmediate, like writebehind's grouped log writes.
  function deferredAckSystem(): BenchSystem & { stored: Map<string, BenchValue> } {
    const stored = new Map<string, BenchValue>()
    return {
      name: 'deferred',
      stored,
      setup: async () => ({ table: 't', keyColumn: 'k', valueColumn: 'v' }),
      write: (key: string, value: BenchValue) =>
        new Promise<void>((resolve) => {
          stored.set(key, value)
          setImmediate(resolve)
        }),
      drain: async () => {},
      dbStats: () => ({ statements: 0, rows: 0 }),
      teardown: async () => {},
    }
  }

  for (const arrival of ['immediate', 'io'] as Arrival[]) {
    it(`drives writers with ${arrival} arrival, records every ack and the newest value per key`, async () => {
      const system = deferredAckSystem()
      const load = await runLoad(system, uniform(50), { arrival, durationMs: 100, writers: 8, maxWrites: 2000 })
      assert.ok(load.acked > 0 && load.acked <= 2000 + 8, `acked ${load.acked}`)
      assert.equal(load.latencies.length, load.acked)
      assert.equal(load.failed, 0)
      for (const [key, value] of load.lastAcked) assert.equal(system.stored.get(key)?.seq, value.seq)
    })
  }
})
