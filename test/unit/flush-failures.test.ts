/**
 * Failure handling end to end, on simulated time: random batch failures, poison entries, a long
 * outage under load, the retry schedule, flush() and close() with failures in the way.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryStore, StoreUnavailableError, type StoreOp } from '../../src/index.js'
import { FlakyStore, OutageStore, PoisonStore } from '../helpers/faulty-stores.js'
import { seededRandom } from '../helpers/seeded-random.js'
import { openTestCache } from '../helpers/open.js'
import { FakeClock } from '../../src/testing/fake-clock.js'

class PingableMemoryStore extends MemoryStore {
  pings = 0
  async ping(): Promise<void> {
    this.pings++
  }
}

async function flushOn(cache: { flush(): Promise<unknown> }, clock: { advance(ms: number): Promise<void> }, stepMs = 50): Promise<void> {
  let done = false
  const flushing = cache.flush().then(() => (done = true))
  for (let i = 0; i < 1_000_000 && !done; i++) await clock.advance(stepMs)
  await flushing
}

describe('a store failing 30% of batches at random', () => {
  it('ends exact: nothing lost, no stale overwrite, nothing dead-lettered', async () => {
    const inner = new MemoryStore()
    const flaky = new FlakyStore(inner, { failRate: 0.3, random: seededRandom(42) })
    const { cache, clock } = await openTestCache(flaky, { flush: { batchSize: 50, concurrency: 2, intervalMs: 100 }, retry: { maxAttempts: 50 } })
    const model = new Map<string, number>()
    const random = seededRandom(7)
    for (let i = 0; i < 20_000; i++) {
      const key = `k${Math.floor(random() * 2000)}`
      if (random() < 0.1) {
        await cache.delete(key)
        model.delete(key)
      } else {
        await cache.set(key, i)
        model.set(key, i)
      }
      if (i % 500 === 0) await clock.advance(60)
    }
    await flushOn(cache, clock)
    assert.deepEqual(inner.snapshot(), model)
    assert.ok(flaky.counters.failedCalls > 20, `the store failed ${flaky.counters.failedCalls} batches`)
    assert.ok(flaky.appliedThenFailed > 0, 'some batches were applied, then failed, then redelivered')
    assert.equal(cache.stats().deadLetters, 0)
    await cache.close()
  })
})

describe('poison entries', () => {
  for (const mode of ['batch', 'per-op'] as const) {
    it(`isolates 1% poison rows (${mode} failures): the good land, the poison go to the DLQ, replay lands them once fixed`, async () => {
      const inner = new MemoryStore()
      let fixed = false
      const isPoison = (op: StoreOp) => !fixed && op.kind === 'set' && (op.value as { n: number }).n % 100 === 13
      const store = new PoisonStore(inner, { isPoison, mode })
      const { cache, clock } = await openTestCache(store, { flush: { batchSize: 100, intervalMs: 100 } })
      const poisoned: string[] = []
      cache.on('dead-letter', ({ key }) => poisoned.push(key))
      for (let n = 0; n < 3000; n++) await cache.set(`row:${n}`, { n })
      let report!: Awaited<ReturnType<typeof cache.flush>>
      const flushing = cache.flush().then((r) => (report = r))
      for (let i = 0; i < 1000 && report === undefined; i++) await clock.advance(50)
      await flushing
      const expectedPoison = Array.from({ length: 30 }, (_, i) => `row:${i * 100 + 13}`)
      assert.deepEqual(report.deadLettered.map((l) => l.key).sort(), [...expectedPoison].sort())
      assert.equal(inner.snapshot().size, 2970, 'every good row landed')
      const letters = cache.deadLetters()
      assert.equal(letters.length, 30)
      for (const l of letters) assert.equal(l.error.code, 'E_POISON')
      assert.deepEqual(await cache.get('row:13'), { n: 13 }, 'the cache keeps serving a dead-lettered value')
      fixed = true
      const replay = await cache.replayDeadLetters()
      assert.deepEqual(replay, { replayed: 30, superseded: 0, failed: 0, busy: 0 })
      assert.equal(inner.snapshot().size, 3000)
      assert.equal(cache.deadLetters().length, 0)
      await cache.close()
    })
  }

  it('replay never lets a dead letter overwrite a newer write', async () => {
    const inner = new MemoryStore()
    const store = new PoisonStore(inner, { isPoison: (op) => op.kind === 'set' && op.value === 'bad' })
    const { cache, clock } = await openTestCache(store)
    await cache.set('k', 'bad')
    await cache.set('other', 'fine') // a lone poison write is held until other writes prove the store healthy
    await flushOn(cache, clock)
    assert.equal(cache.deadLetters().length, 1)
    await cache.set('k', 'good')
    await flushOn(cache, clock)
    // The newer write's landing retires the letter (it used to wait for a replay to be dropped).
    assert.equal(cache.deadLetters().length, 0)
    const replay = await cache.replayDeadLetters()
    assert.equal(replay.superseded + replay.replayed + replay.failed, 0)
    assert.equal(inner.snapshot().get('k'), 'good')
    assert.equal(cache.deadLetters().length, 0)
    await cache.close()
  })
})

describe('a 60-second outage under load', () => {
  it('loses nothing, keeps the backlog under its cap, spends no retry budget, and drains after', async () => {
    const inner = new PingableMemoryStore()
    let outage = { from: 0, to: 0 }
    const clock = new FakeClock()
    const store = new OutageStore(inner, clock, outage)
    const opened = await openTestCache(store, {
      clock,
      flush: { batchSize: 100, intervalMs: 100 },
      backlog: { maxEntries: 5000, whenFull: 'wait' },
      retry: { baseDelayMs: 100, maxDelayMs: 5000, maxAttempts: 5, circuitThreshold: 3 },
    })
    const wb = opened.cache
    const events: string[] = []
    wb.on('circuit:open', () => events.push('open'))
    wb.on('circuit:close', () => events.push('close'))
    outage = { from: clock.now() + 1000, to: clock.now() + 61_000 }
    store.setWindow(outage)
    let callsAtStart = 0
    let callsAtEnd = 0
    const model = new Map<string, number>()
    let maxBacklog = 0
    let writes = 0
    // 70 s of simulated time, 100 writes per simulated 100 ms over 20k keys; writes wait when full.
    const pending: Promise<void>[] = []
    for (let t = 0; t < 700; t++) {
      for (let j = 0; j < 100; j++) {
        const key = `k${(writes * 7919) % 20_000}`
        model.set(key, writes)
        pending.push(wb.set(key, writes++))
      }
      await clock.advance(100)
      if (clock.now() <= outage.from) callsAtStart = store.counters.calls
      if (clock.now() < outage.to) callsAtEnd = store.counters.calls
      maxBacklog = Math.max(maxBacklog, wb.stats().backlog.entries)
    }
    await flushOn(wb, clock, 100)
    await Promise.all(pending)
    assert.deepEqual(inner.snapshot(), model, 'nothing lost, nothing stale')
    assert.ok(maxBacklog <= 5000, `backlog peaked at ${maxBacklog}`)
    assert.ok(maxBacklog >= 4900, `the outage filled the backlog (${maxBacklog})`)
    assert.deepEqual(events, ['open', 'close'])
    assert.ok(callsAtEnd - callsAtStart <= 10, `${callsAtEnd - callsAtStart} batches were sent during the outage: the open circuit probes with ping() instead`)
    assert.ok(inner.pings >= 1, 'the circuit closed after a ping answered')
    assert.equal(wb.stats().deadLetters, 0, 'an outage is not a poison entry')
    assert.equal(wb.stats().backlog.entries, 0)
    await wb.close()
  })

  it("with whenFull: 'store', a write fails fast with StoreUnavailableError while the circuit is open", async () => {
    const clock = new FakeClock()
    const store = new OutageStore(new PingableMemoryStore(), clock, { from: 0, to: Infinity })
    const { cache } = await openTestCache(store, { clock, checkStore: false, backlog: { maxEntries: 10, whenFull: 'store' }, flush: { batchSize: 5 }, retry: { circuitThreshold: 2 } })
    for (let i = 0; i < 10; i++) await cache.set(`k${i}`, i)
    for (let i = 0; i < 20 && cache.stats().circuit === 'closed'; i++) await clock.advance(100)
    assert.equal(cache.stats().circuit, 'open')
    await assert.rejects(cache.set('x', 1), (e: unknown) => e instanceof StoreUnavailableError && e.code === 'E_STORE_UNAVAILABLE')
    await assert.rejects(cache.set('y', 1, { durability: 'store' }), { code: 'E_STORE_UNAVAILABLE' })
    const closing = cache.close()
    await clock.advance(40_000)
    const report = await closing
    assert.equal(report.drained, false)
    assert.equal(report.unflushed, 10)
  })
})

describe('the retry schedule', () => {
  it('follows exponential backoff with full jitter, capped, then dead-letters at maxAttempts', async () => {
    const inner = new MemoryStore()
    // Every batch holding "k" fails (retryable); "other" lands after the split and proves the store
    // healthy, so "k" is dead-lettered at maxAttempts (without that proof it would be held).
    const store = new PoisonStore(inner, { isPoison: (op) => op.key === 'k', retryable: true })
    const { cache, clock } = await openTestCache(store, { retry: { baseDelayMs: 100, maxDelayMs: 1000, maxAttempts: 7, circuitThreshold: 1000 } })
    const delays: Array<{ attempt: number; retryInMs: number | undefined }> = []
    cache.on('flush:failed', ({ attempt, retryInMs }) => delays.push({ attempt, retryInMs }))
    await cache.set('other', 0)
    await cache.set('k', 1)
    let report!: Awaited<ReturnType<typeof cache.flush>>
    const flushing = cache.flush().then((r) => (report = r))
    for (let i = 0; i < 10_000 && report === undefined; i++) await clock.advance(10)
    await flushing
    const retries = delays.filter((d) => d.retryInMs !== undefined)
    assert.equal(retries.length, 6)
    retries.forEach((d, i) => {
      assert.equal(d.attempt, i + 1)
      const ceiling = Math.min(1000, 100 * 2 ** i)
      assert.ok(d.retryInMs! >= 0 && d.retryInMs! < ceiling, `retry ${i + 1} waited ${d.retryInMs} ms, ceiling ${ceiling}`)
    })
    assert.equal(report.deadLettered.length, 1, 'the 7th failure dead-letters the entry and flush() settles')
    assert.equal(cache.deadLetters()[0]?.attempts, 7)
    await cache.close()
  })
})

describe('close() during an outage', () => {
  it('waits up to its timeout, then reports what is unflushed and safe in the log', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wb-close-'))
    try {
      const clock = new FakeClock()
      const inner = new PingableMemoryStore()
      const store = new OutageStore(inner, clock, { from: 0, to: Infinity })
      const { cache } = await openTestCache(store, { clock, dir, closeTimeoutMs: 5000, checkStore: false })
      for (let i = 0; i < 50; i++) await cache.set(`k${i}`, i)
      const closing = cache.close()
      let settled = false
      void closing.then(() => (settled = true))
      await clock.advance(4900)
      assert.equal(settled, false, 'close waits for the drain')
      await clock.advance(200)
      const report = await closing
      assert.equal(report.drained, false)
      assert.equal(report.unflushed, 50)
      assert.equal(report.safeInLog, true)
      store.setWindow({ from: 0, to: 0 })
      const { cache: reopened, clock: c2 } = await openTestCache(store, { dir })
      assert.equal(reopened.recovery?.records, 50)
      await flushOn(reopened, c2)
      assert.equal(inner.snapshot().size, 50, 'the next open flushed what close left in the log')
      await reopened.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('staleness alert', () => {
  it('fires when the oldest unflushed write passes maxStalenessMs and again when it recovers', async () => {
    const clock = new FakeClock()
    const store = new OutageStore(new PingableMemoryStore(), clock, { from: 0, to: clock.now() + 10_000 })
    const { cache } = await openTestCache(store, { clock, alerts: { maxStalenessMs: 3000 }, checkStore: false })
    const alerts: string[] = []
    cache.on('alert:staleness', (e) => alerts.push(`stale>${e.thresholdMs}`))
    cache.on('alert:recovered', () => alerts.push('recovered'))
    await cache.set('k', 1)
    await clock.advance(2000)
    assert.deepEqual(alerts, [])
    await clock.advance(2000)
    assert.deepEqual(alerts, ['stale>3000'])
    await clock.advance(30_000)
    assert.deepEqual(alerts, ['stale>3000', 'recovered'])
    await cache.close()
  })
})
