// Tests of the benchmark's own arithmetic: key generators, percentiles, medians and the
// within-run ratios of the report. Run with `npm test -- bench/harness.test.ts`.
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { runLoad, type Arrival } from './driver.js'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { cpuBound, ownCores, perItem } from './lib/cpu-bound.js'
import { boundLines, cpuSummary } from './lib/cpu-report.js'
import { between, CpuMeter, readProcessCpu, snapshot, type CpuSnapshot, type CpuWindow } from './lib/cpu.js'
import { redisSection, tierRatios } from './lib/redis-report.js'
import { renderReport, summarise, targets } from './lib/report.js'
import { openPool, tableFor } from './lib/pg.js'
import type { Job, RunResult } from './lib/result.js'
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

describe('Redis tier report', () => {
  // Run 2 is a noisier run: every figure halves, the ratios must not move.
  const uniform = (r: RunResult): RunResult => ({ ...r, workload: 'uniform' })
  const runs = [
    result('redis-script-limit', 1, 40_000, 2),
    result('writebehind-redis-memory', 1, 36_000, 2.5, { dbRows: 180_000, loadMs: 5000, drainMs: 1000 }),
    result('writebehind-redis-replicated', 1, 12_000, 5),
    result('redis-handrolled', 1, 30_000, 1),
    result('bullmq', 1, 9_000, 9),
    result('pg-ceiling', 1, 60_000, Number.NaN),
    result('writebehind-redis-memory-flush', 1, 50_000, 1, { dbRows: 90_000, drainMs: 3000 }),
    result('redis-script-limit', 2, 20_000, 4),
    result('writebehind-redis-memory', 2, 18_000, 5, { dbRows: 90_000, loadMs: 5000, drainMs: 1000 }),
    result('writebehind-redis-replicated', 2, 6_000, 10),
    result('redis-handrolled', 2, 15_000, 2),
    result('bullmq', 2, 4_500, 18),
    result('pg-ceiling', 2, 30_000, Number.NaN),
    result('writebehind-redis-memory-flush', 2, 25_000, 2, { dbRows: 45_000, drainMs: 3000 }),
  ].map(uniform)

  it('takes every ratio within a run, against the script limit, the peers, memory and pg-ceiling', () => {
    const [memory, replicated, flush] = tierRatios(runs, 'uniform')
    assert.equal(memory!.system, 'writebehind-redis-memory')
    assert.equal(memory!.vsLimit, 0.9)
    assert.equal(memory!.p99VsLimit, 1.25)
    assert.equal(memory!.vsHandrolled, 1.2)
    assert.equal(memory!.vsBullmq, 4)
    assert.ok(Number.isNaN(memory!.vsMemory) && Number.isNaN(memory!.flushVsCeiling))
    assert.equal(flush!.system, 'writebehind-redis-memory-flush')
    assert.equal(flush!.flushVsCeiling, 0.5) // 90k rows drained in 3 s = 30k/s of 60k/s
    assert.equal(replicated!.vsMemory, 1 / 3)
    assert.equal(replicated!.p99VsLimit, 2.5)
  })

  it('says which targets are met', () => {
    const md = redisSection(runs, ['uniform', 'zipf'])
    assert.match(md, /writebehind-redis-memory: writes\/s 0\.90 of the script limit \(target ≥ 0\.8\): met; ack p99 1\.25× the limit's \(target ≤ 1\.5\): met/)
    assert.match(md, /writebehind-redis-memory: ahead of redis-handrolled \(1\.20×\) and bullmq \(4\.00×\): met/)
    assert.match(md, /writebehind-redis-replicated: 0\.33 of memory with as many processes \(target ≥ 0\.5\): \*\*not met\*\*/)
    assert.match(md, /writebehind-redis-memory-flush: the flush of the backlog ran at 0\.50 of pg-ceiling's rows\/s \(target ≥ 0\.8\): \*\*not met\*\*/)
    assert.doesNotMatch(md, /### zipf/)
    assert.equal(redisSection(runs, ['zipf']), '')
  })

  it('reads a 4-process system against the probe and the peers run with 4 processes too, beside the 1-process ones', () => {
    const four = [
      ...runs,
      result('writebehind-redis-memory-4', 1, 24_000, 6, { backlogAtEnd: 3000, drainMs: 400 }),
      result('redis-script-limit-4', 1, 30_000, 3),
      result('redis-handrolled-4', 1, 20_000, 4),
      result('bullmq-4', 1, 32_000, 5),
    ].map(uniform)
    const row = tierRatios(four, 'uniform').find((r) => r.system === 'writebehind-redis-memory-4')!
    assert.equal(row.vsHandrolled, 0.8) // against the 1-process peer, as before
    assert.equal(row.vsLimitSame, 0.8)
    assert.equal(row.p99VsLimitSame, 2)
    assert.equal(row.vsHandrolledSame, 1.2)
    assert.equal(row.vsBullmqSame, 0.75)
    assert.equal(row.backlogAtEnd, 3000)
    assert.equal(row.drainS, 0.4)
    const md = redisSection(four, ['uniform'])
    assert.match(md, /writebehind-redis-memory-4: writes\/s 0\.80 of the script limit with as many processes \(target ≥ 0\.8\): met; ack p99 2\.00× its p99 \(target ≤ 1\.5\): \*\*not met\*\*/)
    assert.match(md, /writebehind-redis-memory-4: ahead of the peers with as many processes, redis-handrolled \(1\.20×\) and bullmq \(0\.75×\): \*\*not met\*\*/)
    assert.match(md, /\| writebehind-redis-memory-4 \| 24,000 \| 0\.60 \| 6\.00 \| 3\.00 \| 3,000 \| 0\.40 \|/)
    // A 1-process system has no such line.
    assert.doesNotMatch(md, /writebehind-redis-memory: writes\/s [0-9.]+ of the script limit with as many processes/)
  })
})

describe('CPU accounting', () => {
  const window = (over: Partial<CpuWindow> = {}): CpuWindow => ({ appUs: 0, redisUs: 0, pgUs: 0, pgClusterUs: 0, busyCores: 1.5, cores: 2, ...over })

  it('divides a window by its items, NaN when there were none', () => {
    assert.deepEqual(perItem(window({ appUs: 2_000_000, redisUs: 1_000_000, pgUs: 500_000 }), 100_000), { appUs: 20, redisUs: 10, pgUs: 5 })
    assert.ok(Number.isNaN(perItem(window({ appUs: 1 }), 0).appUs))
    // A run without Redis comes back from run-one's JSON with null for NaN: still no Redis, not 0 µs.
    const fromJson = JSON.parse(JSON.stringify(window({ appUs: 100, redisUs: Number.NaN }))) as CpuWindow
    assert.ok(Number.isNaN(perItem(fromJson, 10).redisUs))
    assert.equal(ownCores(fromJson, 1), 0.1)
    // 1.5 s of CPU in a 1 s window, no Redis: 1.5 cores of the machine's busy ones were the system's own.
    assert.equal(ownCores(window({ appUs: 1e6, redisUs: Number.NaN, pgUs: 5e5, pgClusterUs: 9e9 }), 1000), 1.5)
  })

  it('bounds a rate by all cores over the total cost, or by Redis thread over its own, whichever is smaller', () => {
    // 40 µs per write on 2 cores: 50k/s; Redis's 10 µs: 100k/s. The cores bound it; 50k ÷ 40k = 1.25.
    const cores = cpuBound({ appUs: 20, redisUs: 10, pgUs: 10 }, 2, 40_000)
    assert.deepEqual(cores, { machine: 50_000, redis: 100_000, bound: 50_000, boundBy: 'machine', vsReference: 1.25 })
    // 25 µs per write on 2 cores: 80k/s; Redis's 20 µs: 50k/s. Redis bounds it.
    const redis = cpuBound({ appUs: 5, redisUs: 20, pgUs: 0 }, 2, 100_000)
    assert.deepEqual(redis, { machine: 80_000, redis: 50_000, bound: 50_000, boundBy: 'redis', vsReference: 0.5 })
    // No Redis in the window (NaN): only the cores bound it.
    const none = cpuBound({ appUs: 10, redisUs: Number.NaN, pgUs: 10 }, 2, 100_000)
    assert.equal(none.bound, 100_000)
    assert.equal(none.boundBy, 'machine')
  })

  it("takes the machine's busy cores from its jiffies, a Redis that appeared from 0, and only the backends alive at the end", () => {
    const at = (appUs: number, redisUs: number, backends: [number, number][], busy: number, all: number): CpuSnapshot => ({
      appUs,
      redisUs,
      pgBackends: new Map(backends),
      pgClusterUs: appUs / 2,
      machineBusy: busy,
      machineAll: all,
      cores: 2,
    })
    // Backend 7 ran 300 µs, 8 opened in the window (200 µs), 9 closed in it (not counted).
    const w = between(
      at(
        1000,
        Number.NaN,
        [
          [7, 100],
          [9, 50],
        ],
        100,
        400,
      ),
      at(
        3000,
        700,
        [
          [7, 400],
          [8, 200],
        ],
        181,
        500,
      ),
    )
    assert.deepEqual(w, { appUs: 2000, redisUs: 700, pgUs: 500, pgClusterUs: 1000, busyCores: 1.62, cores: 2 })
    assert.ok(Number.isNaN(between(at(0, Number.NaN, [], 0, 1), at(1, Number.NaN, [], 1, 2)).redisUs))
  })

  /** A fake /proc: each process's stat line (ticks of 1/100 s, getconf CLK_TCK on Linux) and its sockets' inodes. */
  function fakeProc(dir: string, processes: [pid: number, comm: string, ppid: number, ticks: number[], sockets: number[]][], tcp: string[]): void {
    for (const [pid, comm, ppid, ticks, sockets] of processes) {
      mkdirSync(join(dir, String(pid), 'fd'), { recursive: true })
      writeFileSync(join(dir, String(pid), 'stat'), `${pid} (${comm}) S ${ppid} 1 1 0 -1 0 0 0 0 0 ${ticks.join(' ')} 20 0 1 0 0 0 0\n`)
      sockets.forEach((inode, fd) => symlinkSync(`socket:[${inode}]`, join(dir, String(pid), 'fd', String(fd + 3))))
    }
    mkdirSync(join(dir, 'net'))
    const lines = tcp.map((pair, i) => `   ${i}: ${pair.replace('>', ' ')} 01 00000000:00000000 00:00000000 00000000   0        0 ${100 + i} 1 0 20 4 30 10 -1`)
    writeFileSync(join(dir, 'net', 'tcp'), ['  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode', ...lines].join('\n'))
    writeFileSync(join(dir, 'net', 'tcp6'), '  sl  local_address rem_address\n')
    writeFileSync(join(dir, 'stat'), 'cpu  100 0 50 300 50 0 0 0 0 0\ncpu0 50 0 25 150 25 0 0 0 0 0\ncpu1 50 0 25 150 25 0 0 0 0 0\n')
  }

  it('reads the groups under a process from a /proc, its PostgreSQL backends by their sockets, names with spaces and parentheses included', async () => {
    const proc = await mkdtemp(join(tmpdir(), 'wbbench-proc-'))
    try {
      // Ports 50000 (ours) and 50001 (someone else's) to 5432, inodes 100–103.
      const [ours, theirs] = ['0100007F:C350>0100007F:1538', '0100007F:C351>0100007F:1538']
      fakeProc(
        proc,
        [
          [10, 'node', 1, [100, 50, 20, 0], [100]], // the measuring process: 1.7 s with a reaped child
          [11, 'node (app) 1', 10, [30, 0, 0, 0], []], // an app process: 0.3 s
          [12, 'redis-server', 10, [40, 10, 0, 0], []], // its Redis: 0.5 s
          [13, 'esbuild', 11, [1, 0, 0, 0], []], // under an app process: Node's group
          [20, 'postgres', 1, [5, 5, 100, 0], []], // the postmaster with its reaped backends
          [21, 'postgres', 20, [200, 0, 0, 0], [101]], // our backend
          [22, 'postgres', 20, [70, 0, 0, 0], [103]], // another client's
          [30, 'redis-server', 1, [999, 0, 0, 0], []], // the shared Redis: not ours
        ],
        [ours, ours.split('>').reverse().join('>'), theirs, theirs.split('>').reverse().join('>')],
      )
      assert.deepEqual(readProcessCpu(11, proc), { pid: 11, comm: 'node (app) 1', ppid: 10, cpuUs: 300_000 })
      assert.deepEqual(snapshot({ root: 10, postmaster: 20, proc }), {
        appUs: 2_010_000,
        redisUs: 500_000,
        pgBackends: new Map([[21, 2_000_000]]),
        pgClusterUs: 3_800_000,
        machineBusy: 150,
        machineAll: 500,
        cores: 2,
      })
      assert.throws(() => snapshot({ root: 10, postmaster: 99, proc }), /pid 99 .*gone/)
    } finally {
      await rm(proc, { recursive: true, force: true })
    }
  })

  it('fails loudly, never 0, when a pid is gone or /proc is unreadable', async () => {
    const child = spawn(process.execPath, ['-e', ''])
    await new Promise((resolve) => child.on('exit', resolve))
    assert.throws(() => readProcessCpu(child.pid!), /pid \d+ .*gone/)
    assert.throws(() => snapshot({ postmaster: 1, proc: '/nonexistent-proc' }), /gone or \/proc is unreadable/)
    assert.throws(() => new CpuMeter(() => snapshot({ postmaster: 1, proc: '/nonexistent-proc' })).begin(), /unreadable/)
    assert.throws(() => new CpuMeter(() => snapshot({ postmaster: child.pid! })).begin(), /gone/)
    assert.throws(() => new CpuMeter(() => snapshot({ postmaster: 1 })).result(), /never opened/)
  })

  it('shows no figure, never 0, where CPU cannot be read at all (no /proc, PostgreSQL elsewhere)', () => {
    const meter = CpuMeter.unavailable()
    meter.begin()
    meter.end()
    const w = meter.result()
    for (const key of ['appUs', 'redisUs', 'pgUs', 'pgClusterUs', 'busyCores'] as const) assert.ok(Number.isNaN(w[key]), `${key} is ${w[key]}`)
  })

  it('reads the bounds in the report within each run: memory against the script limit, the held flush against pg-ceiling', () => {
    const cpu = (w: Partial<CpuWindow>, drain?: Partial<CpuWindow>): RunResult['cpu'] => ({ load: window(w), ...(drain === undefined ? {} : { drain: window(drain) }) })
    const runs = [
      // 100k writes at 20 + 10 + 10 µs: 50k/s on 2 cores, against a limit of 40k/s: 1.25.
      result('writebehind-redis-memory', 1, 30_000, 1, { acked: 100_000, loadMs: 5000, cpu: cpu({ appUs: 2e6, redisUs: 1e6, pgUs: 1e6 }) }),
      result('redis-script-limit', 1, 40_000, 1),
      // 50k rows drained at 10 + 4 + 26 µs: 50k rows/s on 2 cores, against pg-ceiling's 100k rows/s: 0.5.
      result('writebehind-redis-memory-flush', 1, 30_000, 1, { dbRows: 50_000, drainMs: 2000, cpu: cpu({}, { appUs: 5e5, redisUs: 2e5, pgUs: 1.3e6, busyCores: 1.9 }) }),
      result('pg-ceiling', 1, 100_000, Number.NaN),
    ]
    const names = { memory: 'writebehind-redis-memory', limit: 'redis-script-limit', flush: 'writebehind-redis-memory-flush', ceiling: 'pg-ceiling' }
    const [memory, flush] = boundLines(runs, names)
    assert.match(
      memory!,
      /Node 20\.0 \+ Redis 10\.0 \+ PostgreSQL 10\.0 µs per write .*50,000 writes\/s and Redis's one thread 100,000; the smaller, 50,000 \(bound by the cores\), is 1\.25 of the script limit's 40,000 writes\/s .*: 0\.8 was within reach/,
    )
    assert.match(flush!, /1\.90 of 2, 1\.00 its own cores busy on the machine over the drain.*50,000 rows\/s .*is 0\.50 of pg-ceiling's 100,000 rows\/s in this run: \*\*0\.8 was out of reach/)
    assert.deepEqual(cpuSummary(runs.slice(0, 1)), { appUs: 20, redisUs: 10, pgUs: 10, pgClusterUs: 0, busyCores: 1.5, ownCores: 0.8, cores: 2 })
    assert.equal(cpuSummary(runs.slice(1, 2)), undefined)
    const md = redisSection(
      runs.map((r) => ({ ...r, workload: 'uniform' })),
      ['uniform'],
    )
    assert.match(md, /\| writebehind-redis-memory \| 20\.0 \| 10\.0 \| 10\.0 \| 40\.0 \| 0\.00 \| 1\.50 of 2, 0\.80 its own \|/)
    assert.match(md, /writebehind-redis-memory-flush, CPU bound/)
  })
})

describe('tableFor', () => {
  it('names a table after its system, and after WB_BENCH_TABLE_TAG too when set', () => {
    const saved = process.env.WB_BENCH_TABLE_TAG
    try {
      delete process.env.WB_BENCH_TABLE_TAG
      assert.equal(tableFor('writebehind-redis-memory-4'), 'bench_writebehind_redis_memory_4')
      process.env.WB_BENCH_TABLE_TAG = 'T42'
      assert.equal(tableFor('writebehind-redis-memory-4'), 'bench_writebehind_redis_memory_4_t42')
    } finally {
      if (saved === undefined) delete process.env.WB_BENCH_TABLE_TAG
      else process.env.WB_BENCH_TABLE_TAG = saved
    }
  })
})

describe('Redis tier systems, short runs against real servers', () => {
  // Each starts its own redis-server (and replica) and writes into the shared PostgreSQL, like `npm run bench`,
  // into tables of this run's own (WB_BENCH_TABLE_TAG), dropped at the end: a benchmark or another
  // test run at the same time uses the same system names.
  const tag = `t${process.pid}`
  const systems = new Set<string>()
  after(async () => {
    const admin = openPool(1)
    try {
      for (const system of systems) await admin.query(`DROP TABLE IF EXISTS ${tableFor(system)}_${tag}`)
    } finally {
      await admin.end()
    }
  })

  /** One measurement in its own process, and what it printed on stderr. */
  async function runOne(system: string): Promise<RunResult & { stderr: string }> {
    systems.add(system)
    const scratch = await mkdtemp(join(tmpdir(), 'wbbench-test-'))
    try {
      const job: Job = { system, workload: 'zipf', run: 1, durationMs: 400, writers: 8, maxWrites: 20_000, drainTimeoutMs: 60_000, ownRedis: true, out: join(scratch, 'r.json') }
      const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run-one.ts', JSON.stringify(job)], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, WB_BENCH_TABLE_TAG: tag },
      })
      let stderr = ''
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
      assert.equal(code, 0, stderr)
      return { ...(JSON.parse(await readFile(job.out, 'utf8')) as RunResult), stderr }
    } finally {
      await rm(scratch, { recursive: true, force: true })
    }
  }

  /**
   * A window's CPU was read, the Redis server(s) the measurement started found among its children;
   * or, where this user cannot read it (the bench said so on stderr), no figure at all (null from
   * JSON's NaN), never a 0.
   */
  function assertCpu(r: { stderr: string }, w: CpuWindow | undefined): void {
    assert.ok(w !== undefined, 'a CPU window')
    if (r.stderr.includes('bench: no CPU figures')) {
      for (const figure of [w.appUs, w.redisUs, w.pgUs, w.busyCores]) assert.equal(figure, null, JSON.stringify(w))
      return
    }
    assert.ok(w.appUs > 0 && w.redisUs >= 0 && w.pgUs >= 0 && w.busyCores > 0, JSON.stringify(w))
  }

  for (const system of [
    'writebehind-redis-memory',
    'writebehind-redis-memory-4',
    'writebehind-redis-replicated-4',
    'writebehind-redis-memory-flush',
    'writebehind-redis-cluster-replicated-2',
    'redis-handrolled-4',
    'bullmq-4',
  ]) {
    it(`${system}: every acknowledged write lands in PostgreSQL`, async () => {
      const r = await runOne(system)
      assert.equal(r.error, undefined)
      // Any number of writes will do (a loaded machine acknowledges few in 400 ms): what is checked is that each landed.
      assert.ok(r.acked > 0, `acked ${r.acked}`)
      assert.equal(r.failed, 0)
      assert.ok(r.keys > 0 && r.dbRows >= r.keys, `${r.dbRows} rows for ${r.keys} keys`)
      assert.equal(r.correct, true, r.verifyNote)
      assert.match(r.verifyNote, new RegExp(`^${r.keys} keys checked, 0 mismatches, 0 unexpected`))
      assert.ok(Number.isInteger(r.backlogAtEnd) && r.backlogAtEnd! >= 0, `backlog at the end ${r.backlogAtEnd}`)
      assertCpu(r, r.cpu?.load)
      assertCpu(r, r.cpu?.drain)
    })
  }

  for (const probe of ['redis-script-limit', 'redis-script-limit-4']) {
    it(`${probe}: the write script alone acknowledges writes and measures their latency`, async () => {
      const r = await runOne(probe)
      assert.equal(r.error, undefined)
      assert.ok(r.acked > 0, `acked ${r.acked}`)
      assert.equal(r.failed, 0)
      assert.ok(r.p99Ms > 0 && r.p99Ms >= r.p50Ms)
      assert.equal(r.dbRows, 0)
      assertCpu(r, r.cpu?.load)
    })
  }
})
