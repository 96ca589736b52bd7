/**
 * The diagnostics channels (contracts/diagnostics.ts) on real caches over MemoryStore and a real
 * dirty log: every channel is published with its fields and the cache's name, two caches are told
 * apart, the store-batch trace agrees with `stats().flush`, the ack histograms count the writes of
 * each level, nothing is published (so no message built) with nobody subscribed, and a throwing
 * subscriber breaks neither a write nor a flush.
 */
import assert from 'node:assert/strict'
import diagnosticsChannel from 'node:diagnostics_channel'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CHANNELS, MemoryStore, WriteBehindCache, type StoreOp } from '../../src/index.js'
import type { BacklogFullMessage, CircuitMessage, DeadLetterMessage, LogFsyncMessage, RecoveryMessage, StoreBatchContext, WriteMessage } from '../../src/contracts/diagnostics.js'
import { FakeClock } from '../../src/testing/fake-clock.js'
import { leaveDirtyLog } from '../helpers/dirty-dir.js'
import { GatedStore, OutageStore, PoisonStore } from '../helpers/faulty-stores.js'
import { openTestCache } from '../helpers/open.js'

/** Collects the messages of one channel until `stop()`. */
function listen<T>(name: string): { messages: T[]; stop(): void } {
  const messages: T[] = []
  const onMessage = (message: unknown): void => {
    messages.push(message as T)
  }
  diagnosticsChannel.subscribe(name, onMessage)
  return { messages, stop: () => diagnosticsChannel.unsubscribe(name, onMessage) }
}

/** Collects the store-batch trace: each sub-channel's contexts, in order. */
function trace(): { start: StoreBatchContext[]; end: StoreBatchContext[]; asyncEnd: StoreBatchContext[]; error: StoreBatchContext[]; stop(): void } {
  const channel = diagnosticsChannel.tracingChannel<StoreBatchContext>(CHANNELS.storeBatch)
  const seen = { start: [] as StoreBatchContext[], end: [] as StoreBatchContext[], asyncEnd: [] as StoreBatchContext[], error: [] as StoreBatchContext[] }
  const handlers = {
    start: (c: StoreBatchContext) => void seen.start.push(c),
    end: (c: StoreBatchContext) => void seen.end.push(c),
    asyncStart: () => {},
    asyncEnd: (c: StoreBatchContext) => void seen.asyncEnd.push({ ...c }), // a copy: the state at asyncEnd
    error: (c: StoreBatchContext) => void seen.error.push(c),
  }
  channel.subscribe(handlers)
  return { ...seen, stop: () => void channel.unsubscribe(handlers) }
}

/** Flushes on simulated time (the flusher's backoffs and the circuit's probes run on `clock`). */
async function flushOn(cache: { flush(): Promise<unknown> }, clock: FakeClock, stepMs = 50): Promise<void> {
  let done = false
  const flushing = cache.flush().then(() => (done = true))
  for (let i = 0; i < 100_000 && !done; i++) await clock.advance(stepMs)
  await flushing
}

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wb-diag-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('the write channel and the ack histograms', () => {
  it('publishes every write with its op, level, key, duration and the cache name; each level counts its writes', async () => {
    const writes = listen<WriteMessage>(CHANNELS.write)
    const { cache, clock } = await openTestCache(new MemoryStore(), { name: 'acks', dir: join(dir, 'acks') })
    try {
      await cache.set('a', 1, { durability: 'memory' })
      await cache.set('b', 2, { durability: 'memory' })
      await cache.delete('a', { durability: 'memory' })
      await cache.set('c', 3) // the cache's level: log
      await cache.setMany(
        [
          ['d', 4],
          ['e', 5],
        ],
        { durability: 'disk' },
      )
      await cache.increment('n', 2, { durability: 'log' })
      const stored = cache.set('f', 6, { durability: 'store' })
      await flushOn(cache, clock)
      await stored
      const mine = writes.messages.filter((m) => m.cache === 'acks')
      assert.deepEqual(
        mine.map((m) => [m.op, m.durability, m.key, m.ok]),
        [
          ['set', 'memory', 'a', true],
          ['set', 'memory', 'b', true],
          ['delete', 'memory', 'a', true],
          ['set', 'log', 'c', true],
          ['set', 'disk', 'd', true],
          ['set', 'disk', 'e', true],
          ['merge', 'log', 'n', true],
          ['set', 'store', 'f', true],
        ],
      )
      for (const m of mine) assert.ok(m.durationMs >= 0 && Number.isFinite(m.durationMs), `duration ${m.durationMs}`)
      const memoryMs = mine.filter((m) => m.durability === 'memory').reduce((sum, m) => sum + m.durationMs, 0)
      assert.ok(memoryMs > 0, 'with a subscriber, a memory write acknowledged within its call is timed too')
      const { ack } = cache.stats()
      assert.deepEqual(
        Object.fromEntries(Object.entries(ack).map(([level, s]) => [level, s.count])),
        { memory: 3, log: 2, disk: 2, replicated: 0, store: 1 },
        'replicated is a Redis tier level: none here',
      )
      for (const s of Object.values(ack)) assert.ok(s.p50Ms <= s.p95Ms && s.p95Ms <= s.p99Ms && s.p99Ms <= s.maxMs, JSON.stringify(s))
      assert.ok(ack.store.maxMs >= Math.max(...mine.filter((m) => m.durability === 'store').map((m) => m.durationMs)) - 1e-9)
    } finally {
      writes.stop()
      await cache.close()
    }
  })

  it('publishes a refused write with ok: false and leaves it out of the ack histogram', async () => {
    const writes = listen<WriteMessage>(CHANNELS.write)
    const gated = new GatedStore(new MemoryStore())
    const { cache } = await openTestCache(gated, { name: 'refused', backlog: { maxEntries: 1, whenFull: 'reject' } })
    try {
      await cache.set('a', 1)
      await assert.rejects(cache.set('b', 2), { code: 'E_BACKLOG_FULL' })
      assert.deepEqual(
        writes.messages.filter((m) => m.cache === 'refused').map((m) => [m.key, m.ok]),
        [
          ['a', true],
          ['b', false],
        ],
      )
      assert.equal(cache.stats().ack.memory.count, 1)
      // a call refused at the door (a bad key) is not a write: nothing published
      await assert.rejects(cache.set('', 1), { code: 'E_INVALID_KEY' })
      assert.equal(writes.messages.filter((m) => m.cache === 'refused').length, 2)
    } finally {
      writes.stop()
      await gated.open()
      await cache.close()
    }
  })

  it('with nobody listening, counts a memory write acknowledged within its call as 0 ms, and times one that waited for room', async () => {
    const gated = new GatedStore(new MemoryStore())
    const { cache, clock } = await openTestCache(gated, { name: 'untimed', backlog: { maxEntries: 1, whenFull: 'wait' }, flush: { batchSize: 1, intervalMs: 10 } })
    try {
      await cache.set('a', 1)
      assert.deepEqual(cache.stats().ack.memory, { count: 1, p50Ms: 0, p95Ms: 0, p99Ms: 0, maxMs: 0 })
      const waiting = cache.set('b', 2) // the backlog is full: it waits for the flush of a
      await clock.advance(10)
      await gated.release()
      await waiting
      const { memory } = cache.stats().ack
      assert.equal(memory.count, 2)
      assert.ok(memory.maxMs > 0, `the wait was timed: ${memory.maxMs} ms`)
    } finally {
      await gated.open()
      await cache.close()
    }
  })

  it('publishes an untimed memory write to a subscriber that arrived during the call (while its value was read)', async () => {
    const { cache } = await openTestCache(new MemoryStore(), { name: 'late-subscriber' })
    let writes: { messages: WriteMessage[]; stop(): void } | undefined
    try {
      // Nobody listens when the write starts, so it is not timed; the value's getter subscribes before it is acknowledged.
      const value = {
        get score() {
          writes ??= listen<WriteMessage>(CHANNELS.write)
          return 7
        },
      }
      await cache.set('late', value)
      assert.deepEqual(
        writes?.messages.filter((m) => m.cache === 'late-subscriber').map((m) => [m.op, m.key, m.durability, m.durationMs, m.ok]),
        [['set', 'late', 'memory', 0, true]],
      )
      assert.equal(cache.stats().ack.memory.count, 1)
    } finally {
      writes?.stop()
      await cache.close()
    }
  })

  it('counts each increment, max and min once, at its level, whether or not it read the key first', async () => {
    const store = new MemoryStore()
    await store.writeBatch([{ kind: 'set', key: 'stored', value: 5, encoded: '5', version: 1 }])
    const { cache } = await openTestCache(store, { name: 'merges' })
    const writes = listen<WriteMessage>(CHANNELS.write)
    try {
      await cache.increment('stored') // not cached: read from the store first
      await cache.increment('stored', 2)
      await cache.increment('fresh') // absent everywhere
      await cache.max('fresh', 10)
      await cache.min('fresh', 3)
      assert.equal(cache.stats().ack.memory.count, 5)
      assert.deepEqual(
        writes.messages.filter((m) => m.cache === 'merges').map((m) => [m.op, m.key, m.ok]),
        [
          ['merge', 'stored', true],
          ['merge', 'stored', true],
          ['merge', 'fresh', true],
          ['merge', 'fresh', true],
          ['merge', 'fresh', true],
        ],
      )
    } finally {
      writes.stop()
      await cache.close()
    }
  })

  it('tells two caches apart by their names', async () => {
    const writes = listen<WriteMessage>(CHANNELS.write)
    const one = await openTestCache(new MemoryStore(), { name: 'one' })
    const two = await openTestCache(new MemoryStore(), { name: 'two' })
    try {
      for (let i = 0; i < 3; i++) await one.cache.set(`k${i}`, i)
      for (let i = 0; i < 5; i++) await two.cache.set(`k${i}`, i)
      const count = (name: string): number => writes.messages.filter((m) => m.cache === name).length
      assert.deepEqual([count('one'), count('two')], [3, 5])
      assert.deepEqual([one.cache.name, two.cache.name], ['one', 'two'])
    } finally {
      writes.stop()
      await one.cache.close()
      await two.cache.close()
    }
  })
})

describe('the store-batch TracingChannel', () => {
  it('wraps every writeBatch: start, end and asyncEnd on one context whose counts add up to stats().flush', async () => {
    const t = trace()
    const store = new MemoryStore()
    const { cache, clock } = await openTestCache(store, { name: 'batches', flush: { batchSize: 7, intervalMs: 100 } })
    try {
      for (let i = 0; i < 40; i++) await cache.set(`k${i % 25}`, i)
      await flushOn(cache, clock)
      await store.writeBatch([{ kind: 'set', key: 'k0', value: 'newer', encoded: '"newer"', version: 8e15 }]) // newer than any version of the cache
      await cache.set('k0', 'older-than-the-store')
      await cache.set('k1', 'fresh')
      await flushOn(cache, clock)
      const starts = t.start.filter((c) => c.cache === 'batches')
      const ends = t.asyncEnd.filter((c) => c.cache === 'batches')
      const { flush } = cache.stats()
      assert.ok(flush.batches >= 5, `${flush.batches} batches`)
      assert.equal(starts.length, flush.batches)
      assert.equal(ends.length, flush.batches)
      assert.equal(t.end.filter((c) => c.cache === 'batches').length, flush.batches)
      assert.equal(t.error.length, 0)
      assert.deepEqual(
        starts.map((c) => [c.ops, c.attempt]),
        ends.map((c) => [c.ops, 1]),
      )
      const sum = (pick: (r: NonNullable<StoreBatchContext['result']>) => number): number => ends.reduce((n, c) => n + pick(c.result as NonNullable<StoreBatchContext['result']>), 0)
      assert.equal(
        sum((r) => r.applied),
        flush.ops,
      )
      assert.equal(
        sum((r) => r.fenced),
        flush.fenced,
      )
      assert.equal(
        sum((r) => r.failed),
        0,
      )
      assert.equal(flush.superseded, 1, 'k0 was superseded')
      assert.equal(
        sum((r) => r.applied) + flush.superseded,
        ends.reduce((n, c) => n + c.ops, 0),
        'every op applied or superseded',
      )
      for (const c of ends) assert.ok((c.result?.durationMs ?? -1) >= 0)
      assert.equal(flush.batchDuration.count, flush.batches)
      assert.equal(flush.batchOps.count, flush.batches)
      assert.equal(flush.batchOps.maxMs, 7)
      assert.ok(flush.batchOps.p50Ms <= flush.batchOps.p95Ms && flush.batchOps.p99Ms <= flush.batchOps.maxMs)
    } finally {
      t.stop()
      await cache.close()
    }
  })

  it('publishes error with the failure, and the circuit opening and closing, on a failing store', async () => {
    const t = trace()
    const circuit = listen<CircuitMessage>(CHANNELS.circuit)
    const clock = new FakeClock()
    const outage = new OutageStore(new MemoryStore(), clock, { from: 0, to: clock.now() + 2_000 })
    const { cache } = await openTestCache(outage, { name: 'outage', clock, flush: { intervalMs: 100 }, retry: { circuitThreshold: 3, baseDelayMs: 50, maxDelayMs: 400, maxAttempts: 1000 } })
    try {
      for (let i = 0; i < 5; i++) await cache.set(`k${i}`, i)
      await flushOn(cache, clock)
      const errors = t.error.filter((c) => c.cache === 'outage')
      const ends = t.asyncEnd.filter((c) => c.cache === 'outage')
      assert.ok(errors.length >= 3, `${errors.length} failed calls`)
      assert.equal(ends.length, outage.counters.calls, 'every call ends, failed or not')
      for (const c of errors) {
        assert.ok(c.error instanceof Error)
        assert.match(c.error.message, /outage/)
      }
      const failedEnds = ends.filter((c) => c.error !== undefined)
      assert.equal(failedEnds.length, errors.length)
      for (const c of failedEnds) assert.deepEqual({ ...c.result, durationMs: 0 }, { applied: 0, fenced: 0, failed: c.ops, durationMs: 0 })
      assert.ok(
        ends.some((c) => c.attempt > 1),
        'retries carry their attempt number',
      )
      assert.equal(cache.stats().flush.batchDuration.count, outage.counters.calls)
      const mine = circuit.messages.filter((m) => m.cache === 'outage')
      assert.equal(mine[0]?.state, 'open')
      assert.equal(mine[0]?.failures, 3)
      assert.equal(mine.at(-1)?.state, 'closed')
      assert.ok((mine.at(-1)?.openForMs ?? -1) > 0)
    } finally {
      t.stop()
      circuit.stop()
      await cache.close()
    }
  })
})

describe('the other channels', () => {
  it('dead-letter: the key, version and error of a poison write', async () => {
    const letters = listen<DeadLetterMessage>(CHANNELS.deadLetter)
    const store = new PoisonStore(new MemoryStore(), { isPoison: (op: StoreOp) => op.key === 'bad', mode: 'per-op' })
    const { cache, clock } = await openTestCache(store, { name: 'poison', retry: { baseDelayMs: 10, maxDelayMs: 50 } })
    try {
      await cache.set('good', 1)
      await cache.set('bad', 2)
      await flushOn(cache, clock)
      const [letter] = cache.deadLetters()
      assert.deepEqual(
        letters.messages.map((m) => ({ ...m, error: m.error.message })),
        [{ cache: 'poison', key: 'bad', version: letter?.version, error: letter?.error.message }],
      )
    } finally {
      letters.stop()
      await cache.close()
    }
  })

  it('backlog.full: once per episode, with the backlog size', async () => {
    const full = listen<BacklogFullMessage>(CHANNELS.backlogFull)
    const gated = new GatedStore(new MemoryStore())
    const { cache } = await openTestCache(gated, { name: 'full', backlog: { maxEntries: 2, whenFull: 'reject' } })
    try {
      await cache.set('a', 1)
      await cache.set('bb', 2)
      await assert.rejects(cache.set('c', 3), { code: 'E_BACKLOG_FULL' })
      await assert.rejects(cache.set('d', 4), { code: 'E_BACKLOG_FULL' })
      assert.deepEqual(full.messages, [{ cache: 'full', entries: 2, bytes: cache.stats().backlog.bytes }])
      assert.deepEqual([cache.stats().backlog.maxEntries, cache.stats().backlog.maxBytes], [2, 256 * 1024 * 1024])
    } finally {
      full.stop()
      await gated.open()
      await cache.close()
    }
  })

  it('log.fsync: one message per fsync the log counts, with its duration', async () => {
    const fsyncs = listen<LogFsyncMessage>(CHANNELS.logFsync)
    const { cache } = await openTestCache(new MemoryStore(), { name: 'fsync', dir: join(dir, 'fsync'), durability: 'disk', segmentBytes: 4096 })
    try {
      for (let i = 0; i < 60; i++) await cache.set(`k${i}`, 'x'.repeat(100)) // past 4 KiB: a segment roll fsyncs too
      const counted = cache.stats().log?.fsyncs ?? 0
      assert.ok(counted >= 60, `${counted} fsyncs`)
      assert.equal(fsyncs.messages.length, counted)
      for (const m of fsyncs.messages) {
        assert.equal(m.cache, 'fsync')
        assert.ok(m.durationMs >= 0)
      }
    } finally {
      fsyncs.stop()
      await cache.close()
    }
  })

  it('recovery: what open() replayed, under the name of the cache that opened it', async () => {
    const recovery = listen<RecoveryMessage>(CHANNELS.recovery)
    const logDir = join(dir, 'recovery')
    await leaveDirtyLog(logDir)
    const cache = await WriteBehindCache.open({ store: new MemoryStore(), dir: logDir, name: 'replayed', warn: () => {} })
    try {
      const report = cache.recovery
      assert.ok(report !== undefined && report.records > 0)
      assert.deepEqual(
        recovery.messages.filter((m) => m.cache === 'replayed'),
        [{ cache: 'replayed', records: report.records, keys: report.keys, durationMs: Math.max(0, report.durationMs) }],
      )
      const fresh = recovery.messages.find((m) => m.cache === 'default') // leaveDirtyLog's own cache, on a fresh dir
      assert.deepEqual([fresh?.records, fresh?.keys], [0, 0])
    } finally {
      recovery.stop()
      await cache.close()
    }
  })
})

describe('with nobody subscribed', () => {
  it('publishes nothing on any channel, so it builds no message, through a workload that would publish on each', async () => {
    // Subscribed once and unsubscribed: the channels exist and have had subscribers.
    for (const name of Object.values(CHANNELS)) listen(name).stop()
    const traced = diagnosticsChannel.tracingChannel(CHANNELS.storeBatch)
    const plain = Object.entries(CHANNELS)
      .filter(([key]) => key !== 'storeBatch')
      .map(([, name]) => diagnosticsChannel.channel(name))
    const spied = [...plain, traced.start, traced.end, traced.asyncStart, traced.asyncEnd, traced.error]
    const calls: string[] = []
    for (const channel of spied) {
      const name = String(channel.name)
      Object.assign(channel, {
        publish: () => calls.push(`publish ${name}`),
        runStores: (_data: unknown, fn: () => unknown) => {
          calls.push(`runStores ${name}`)
          return fn()
        },
      })
    }
    try {
      const logDir = join(dir, 'quiet')
      await leaveDirtyLog(logDir) // recovery
      const clock = new FakeClock()
      const poison = new PoisonStore(new MemoryStore(), { isPoison: (op: StoreOp) => op.key === 'bad', mode: 'per-op' })
      const outage = new OutageStore(poison, clock, { from: 0, to: clock.now() + 2_000 })
      const { cache } = await openTestCache(outage, {
        name: 'quiet',
        clock,
        dir: logDir,
        durability: 'disk', // fsyncs
        backlog: { maxEntries: 31, whenFull: 'reject' },
        retry: { circuitThreshold: 2, baseDelayMs: 50, maxDelayMs: 400, maxAttempts: 1000 },
      })
      for (let i = 0; i < 5; i++) await cache.set(`k${i}`, i, { durability: i % 2 === 0 ? 'memory' : 'disk' })
      await cache.set('bad', 'poison')
      await assert.rejects(cache.set('one-too-many', 1), { code: 'E_BACKLOG_FULL' }) // 25 replayed + 6 written
      await flushOn(cache, clock)
      const stats = cache.stats()
      await cache.close()
      // The workload did reach every publishing site.
      assert.ok(cache.recovery !== undefined && cache.recovery.records > 0, 'recovered')
      assert.ok(stats.writes >= 6 && stats.flush.batches > 0 && stats.flush.failedBatches > 0, JSON.stringify(stats.flush))
      assert.equal(stats.deadLetters, 1)
      assert.ok((stats.log?.fsyncs ?? 0) > 0)
      assert.deepEqual(calls, [])
    } finally {
      for (const channel of spied) {
        delete (channel as { publish?: unknown }).publish
        delete (channel as { runStores?: unknown }).runStores
      }
    }
  })
})

describe('a subscriber that throws', () => {
  it('breaks neither a write nor a flush: Node reports its error as uncaught, on the next tick', async () => {
    const thrown: unknown[] = []
    const saved = process.listeners('uncaughtException')
    process.removeAllListeners('uncaughtException')
    process.on('uncaughtException', (error) => thrown.push(error))
    const boom = (): never => {
      throw new Error('subscriber bug')
    }
    const traced = diagnosticsChannel.tracingChannel(CHANNELS.storeBatch)
    const handlers = { start: boom, end: boom, asyncStart: boom, asyncEnd: boom, error: boom }
    diagnosticsChannel.subscribe(CHANNELS.write, boom)
    traced.subscribe(handlers)
    const store = new MemoryStore()
    const { cache, clock } = await openTestCache(store, { name: 'throwing' })
    try {
      await cache.set('a', 1)
      await cache.set('b', 2)
      await flushOn(cache, clock)
      assert.deepEqual(
        [...store.snapshot().entries()],
        [
          ['a', 1],
          ['b', 2],
        ],
      )
      await new Promise<void>((resolve) => setImmediate(resolve))
      assert.ok(thrown.length >= 2 + 4, `${thrown.length} errors reported`)
      assert.ok(thrown.every((e) => e instanceof Error && e.message === 'subscriber bug'))
      assert.equal(cache.stats().ack.memory.count, 2)
    } finally {
      diagnosticsChannel.unsubscribe(CHANNELS.write, boom)
      traced.unsubscribe(handlers)
      await cache.close()
      process.removeAllListeners('uncaughtException')
      for (const listener of saved) process.on('uncaughtException', listener)
    }
  })
})

describe('the name option', () => {
  it("defaults to 'default', is exposed as cache.name, and is checked at the door", async () => {
    const { cache } = await openTestCache(new MemoryStore())
    assert.equal(cache.name, 'default')
    await cache.close()
    for (const bad of ['', 42, 'x'.repeat(129)]) {
      await assert.rejects(
        WriteBehindCache.open({ store: new MemoryStore(), name: bad as string, warn: () => {} }),
        (e: unknown) => e instanceof TypeError && (e as { code?: string; option?: string }).code === 'E_INVALID_OPTION' && (e as { option?: string }).option === 'name',
      )
    }
    const long = await openTestCache(new MemoryStore(), { name: 'x'.repeat(128), backlog: { maxBytes: Infinity } })
    assert.equal(long.cache.name.length, 128)
    assert.deepEqual([long.cache.stats().backlog.maxEntries, long.cache.stats().backlog.maxBytes], [1_000_000, Infinity])
    await long.cache.close()
  })
})
