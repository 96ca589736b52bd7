/**
 * writebehind/prometheus on a real prom-client Registry and real caches publishing on the real
 * diagnostics channels: counters and histograms fed from the channels agree with `stats()`, gauges
 * are read at scrape time, several caches share the metrics by their `cache` label, unregistering
 * removes exactly one cache's series, the user's registry is never reset, and no key becomes a
 * label.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Counter, Registry, register as globalRegister } from 'prom-client'
import { MemoryStore, MetricsRegistrationError, PeerMissingError, type Store, type WriteBehindCache } from '../../src/index.js'
import { registerPrometheus } from '../../src/prometheus/index.js'
import { INSTRUMENT_LIST, LABEL_VALUES } from '../../src/metrics/instruments.js'
import { loadPeer } from '../../src/metrics/peer.js'
import { FakeClock } from '../../src/testing/fake-clock.js'
import { FlakyStore, OutageStore, PoisonStore } from '../helpers/faulty-stores.js'
import { openTestCache } from '../helpers/open.js'
import { parseExposition, select, sum, type Exposition } from '../helpers/exposition.js'

async function scrape(register: Registry): Promise<Exposition> {
  return parseExposition(await register.metrics())
}

/** Flushes on a fake clock: flush() waits for timers the clock must move. */
async function flushOn(cache: WriteBehindCache, clock: FakeClock): Promise<void> {
  const flushing = cache.flush()
  for (let i = 0; i < 50; i++) await clock.advance(100)
  await flushing
}

describe('registerPrometheus', () => {
  it('counts writes by op, level and result, ack latency and flushed ops as stats() does, and reads the gauges at scrape time', async () => {
    const register = new Registry()
    const { cache, clock } = await openTestCache(new MemoryStore(), { name: 'orders', flush: { intervalMs: 60_000 } })
    const handle = registerPrometheus(cache, { register })
    for (let i = 0; i < 40; i++) await cache.set(`k${i % 7}`, i)
    for (let i = 0; i < 5; i++) await cache.delete(`k${i}`)
    await cache.increment('counter', 3)
    const before = await scrape(register)
    const statsBefore = cache.stats()
    assert.ok(statsBefore.backlog.entries > 0)
    assert.equal(sum(before, 'writebehind_backlog_entries', { cache: 'orders' }), statsBefore.backlog.entries)
    assert.equal(sum(before, 'writebehind_backlog_bytes', { cache: 'orders' }), statsBefore.backlog.bytes)
    assert.equal(sum(before, 'writebehind_backlog_max_entries', { cache: 'orders' }), statsBefore.backlog.maxEntries)
    assert.equal(sum(before, 'writebehind_backlog_max_bytes', { cache: 'orders' }), statsBefore.backlog.maxBytes)
    assert.equal(sum(before, 'writebehind_backlog_oldest_age_seconds'), statsBefore.backlog.oldestDirtyAgeMs / 1000)

    const throughStore = cache.set('s', 1, { durability: 'store' })
    await flushOn(cache, clock)
    await throughStore
    const after = await scrape(register)
    const stats = cache.stats()
    assert.equal(sum(after, 'writebehind_writes_total', { op: 'set', durability: 'memory', result: 'ok' }), 40)
    assert.equal(sum(after, 'writebehind_writes_total', { op: 'delete', result: 'ok' }), 5)
    assert.equal(sum(after, 'writebehind_writes_total', { op: 'merge', result: 'ok' }), 1)
    assert.equal(sum(after, 'writebehind_writes_total', { op: 'set', durability: 'store', result: 'ok' }), 1)
    assert.equal(sum(after, 'writebehind_writes_total', { result: 'ok' }), stats.writes)
    assert.equal(sum(after, 'writebehind_ack_duration_seconds_count', { durability: 'memory' }), stats.ack.memory.count)
    assert.equal(sum(after, 'writebehind_ack_duration_seconds_count', { durability: 'store' }), stats.ack.store.count)
    assert.equal(sum(after, 'writebehind_flush_ops_total', { outcome: 'applied' }) + sum(after, 'writebehind_flush_ops_total', { outcome: 'fenced' }), stats.flush.ops + stats.flush.superseded)
    assert.equal(sum(after, 'writebehind_flush_duration_seconds_count'), stats.flush.batchDuration.count)
    assert.equal(sum(after, 'writebehind_flush_batch_size_count'), stats.flush.batches)
    const sent = sum(after, 'writebehind_flush_ops_total') - sum(after, 'writebehind_flush_ops_total', { outcome: 'dead_lettered' })
    assert.equal(sum(after, 'writebehind_flush_batch_size_sum'), sent, 'every op sent is in one outcome')
    assert.equal(sum(after, 'writebehind_backlog_entries'), 0)
    assert.equal(sum(after, 'writebehind_circuit_open'), 0)
    assert.equal(sum(after, 'writebehind_dead_letters'), 0)
    assert.deepEqual(select(after, 'writebehind_log_bytes'), [], 'no log without a dir: no sample')
    handle.unregister()
    await cache.close()
  })

  it('types every metric as the instruments table says, with the default prefix', async () => {
    const register = new Registry()
    const { cache } = await openTestCache(new MemoryStore(), { name: 'typed' })
    const handle = registerPrometheus(cache, { register })
    const { types } = await scrape(register)
    assert.deepEqual(new Map(INSTRUMENT_LIST.map((i) => [`writebehind_${i.name}`, i.kind])), types)
    handle.unregister()
    await cache.close()
  })

  it('counts failed batches, dead letters and the circuit from a failing store', async () => {
    const register = new Registry()
    const clock = new FakeClock()
    const poison = new PoisonStore(new MemoryStore(), { isPoison: (op) => op.key === 'bad', mode: 'per-op' })
    const { cache } = await openTestCache(poison, { clock, name: 'poisoned', retry: { maxAttempts: 2, baseDelayMs: 10 } })
    const handle = registerPrometheus(cache, { register })
    await cache.set('good', 1)
    await cache.set('bad', 2)
    await flushOn(cache, clock)
    const exposition = await scrape(register)
    const stats = cache.stats()
    assert.equal(stats.flush.deadLettered, 1)
    assert.equal(sum(exposition, 'writebehind_flush_ops_total', { outcome: 'dead_lettered' }), 1)
    assert.equal(sum(exposition, 'writebehind_dead_letters'), stats.deadLetters)
    assert.ok(sum(exposition, 'writebehind_flush_ops_total', { outcome: 'failed' }) >= 1, 'the poison op failed before it was dead-lettered')
    assert.ok(sum(exposition, 'writebehind_flush_duration_seconds_count', { result: 'failed' }) >= 1)
    assert.equal(sum(exposition, 'writebehind_flush_duration_seconds_count'), stats.flush.batchDuration.count)
    handle.unregister()
    await cache.close()

    const outage = new OutageStore(new MemoryStore(), clock, { from: 0, to: Infinity })
    const { cache: down } = await openTestCache(outage, { clock, name: 'down', checkStore: false, retry: { circuitThreshold: 2, baseDelayMs: 10 } })
    const downHandle = registerPrometheus(down, { register })
    await down.set('k', 1)
    void down.flush().catch(() => undefined)
    for (let i = 0; i < 50 && down.stats().circuit !== 'open'; i++) await clock.advance(100)
    assert.equal(down.stats().circuit, 'open')
    const open = await scrape(register)
    assert.equal(sum(open, 'writebehind_circuit_open', { cache: 'down' }), 1)
    assert.equal(sum(open, 'writebehind_flush_ops_total', { cache: 'down', outcome: 'failed' }), down.stats().flush.failedBatches, 'each failed batch held the one op')
    downHandle.unregister()
    outage.setWindow({ from: 0, to: 0 })
    const closing = down.close()
    for (let i = 0; i < 100; i++) await clock.advance(100)
    await closing
  })

  it('counts refused writes as failed, apart from the ack latency of acknowledged ones, and backlog-full episodes', async () => {
    const register = new Registry()
    const { cache } = await openTestCache(new MemoryStore(), { name: 'full', backlog: { maxEntries: 2, whenFull: 'reject' }, flush: { intervalMs: 60_000 } })
    const handle = registerPrometheus(cache, { register })
    await cache.set('a', 1)
    await cache.set('b', 1)
    await assert.rejects(cache.set('c', 1), { code: 'E_BACKLOG_FULL' })
    await assert.rejects(cache.set('d', 1), { code: 'E_BACKLOG_FULL' })
    const exposition = await scrape(register)
    assert.equal(sum(exposition, 'writebehind_writes_total', { result: 'failed' }), 2)
    assert.equal(sum(exposition, 'writebehind_writes_total', { result: 'ok' }), 2)
    assert.equal(sum(exposition, 'writebehind_ack_duration_seconds_count'), cache.stats().ack.memory.count)
    assert.equal(sum(exposition, 'writebehind_backlog_full_total'), 1, 'one episode')
    assert.equal(sum(exposition, 'writebehind_backlog_entries'), sum(exposition, 'writebehind_backlog_max_entries'))
    handle.unregister()
    await cache.close()
  })

  it('counts ops the store skipped because it held a newer version as fenced, not applied', async () => {
    const register = new Registry()
    const store = new MemoryStore()
    const { cache, clock } = await openTestCache(store, { name: 'fencing' })
    // Another writer's newer row, landed after the cache read the store's highest version at open.
    await store.writeBatch([{ kind: 'set', key: 'held', value: 'newer', encoded: '"newer"', version: 2 ** 52 }])
    const handle = registerPrometheus(cache, { register })
    await cache.set('held', 'older')
    await cache.set('fresh', 1)
    await flushOn(cache, clock)
    const exposition = await scrape(register)
    assert.equal(sum(exposition, 'writebehind_flush_ops_total', { outcome: 'fenced' }), 1)
    assert.equal(sum(exposition, 'writebehind_flush_ops_total', { outcome: 'applied' }), 1)
    assert.equal(store.snapshot().get('held'), 'newer')
    handle.unregister()
    await cache.close()
  })

  it('counts a redelivered op the store already held as fenced, and a superseded op from a store that reports no fenced count', async () => {
    const register = new Registry()
    const draws = [0, 0]
    const flaky = new FlakyStore(new MemoryStore(), { failRate: 0.5, applyThenFailRate: 1, random: () => draws.shift() ?? 1 })
    const { cache, clock } = await openTestCache(flaky, { name: 'redelivered', retry: { baseDelayMs: 10 } })
    const handle = registerPrometheus(cache, { register })
    await cache.set('a', 1)
    await cache.set('b', 1)
    await flushOn(cache, clock)
    assert.equal(flaky.appliedThenFailed, 1)
    const redelivered = await scrape(register)
    assert.deepEqual(
      ['applied', 'fenced', 'failed'].map((outcome) => sum(redelivered, 'writebehind_flush_ops_total', { outcome })),
      [0, 2, 2],
      'the first attempt failed after commit; its redelivery found both ops held',
    )
    handle.unregister()
    await cache.close()

    const inner = new MemoryStore()
    const silent: Store = { writeBatch: async (ops) => ({ ...(await inner.writeBatch(ops)), fenced: undefined }), load: (keys) => inner.load(keys) }
    const { cache: other, clock: otherClock } = await openTestCache(silent, { name: 'silent' })
    const otherHandle = registerPrometheus(other, { register })
    await inner.writeBatch([{ kind: 'set', key: 'held', value: 'newer', encoded: '"newer"', version: 2 ** 52 }])
    await other.set('held', 'older')
    await other.set('fresh', 1)
    await flushOn(other, otherClock)
    const superseded = await scrape(register)
    assert.equal(sum(superseded, 'writebehind_flush_ops_total', { cache: 'silent', outcome: 'fenced' }), 1)
    assert.equal(sum(superseded, 'writebehind_flush_ops_total', { cache: 'silent', outcome: 'applied' }), 1)
    otherHandle.unregister()
    await other.close()
  })

  it('lets caches share a registry by their cache label; unregistering removes one cache, the last removes the metrics; the user’s metrics stay', async () => {
    const register = new Registry()
    const mine = new Counter({ name: 'app_requests_total', help: 'the app’s own', registers: [register] })
    mine.inc(5)
    const { cache: a } = await openTestCache(new MemoryStore(), { name: 'a' })
    const { cache: b } = await openTestCache(new MemoryStore(), { name: 'b' })
    const handleA = registerPrometheus(a, { register, labels: { service: 'api' } })
    const handleB = registerPrometheus(b, { register, labels: { service: 'api' } })
    await a.set('x', 1)
    await b.set('y', 1)
    await b.set('z', 1)
    const both = await scrape(register)
    assert.equal(sum(both, 'writebehind_writes_total', { cache: 'a', service: 'api' }), 1)
    assert.equal(sum(both, 'writebehind_writes_total', { cache: 'b', service: 'api' }), 2)
    assert.equal(sum(both, 'writebehind_backlog_entries', { cache: 'b' }), 2)

    handleA.unregister()
    handleA.unregister()
    const onlyB = await scrape(register)
    assert.deepEqual(
      onlyB.samples.filter((s) => s.labels.cache === 'a'),
      [],
    )
    assert.equal(sum(onlyB, 'writebehind_writes_total', { cache: 'b' }), 2)
    handleB.unregister()
    const none = await scrape(register)
    assert.deepEqual([...none.types.keys()], ['app_requests_total'])
    assert.equal(sum(none, 'app_requests_total'), 5, 'the registry was never reset')
    assert.deepEqual(
      none.samples.filter((s) => s.name.startsWith('process_') || s.name.startsWith('nodejs_')),
      [],
      'no default metrics',
    )
    const again = registerPrometheus(a, { register })
    await a.set('x', 2)
    assert.equal(sum(await scrape(register), 'writebehind_writes_total', { cache: 'a' }), 1, 'a new registration counts from then on')
    again.unregister()
    await a.close()
    await b.close()
  })

  it('refuses a second cache of the same name, a metric it did not make, and other label names', async () => {
    const register = new Registry()
    const { cache } = await openTestCache(new MemoryStore(), { name: 'same' })
    const { cache: twin } = await openTestCache(new MemoryStore(), { name: 'same' })
    const { cache: other } = await openTestCache(new MemoryStore(), { name: 'other' })
    const handle = registerPrometheus(cache, { register })
    for (const duplicate of [cache, twin]) {
      assert.throws(
        () => registerPrometheus(duplicate, { register }),
        (error: unknown) => error instanceof MetricsRegistrationError && error.code === 'E_METRICS_DUPLICATE' && error.cache === 'same',
      )
    }
    assert.throws(
      () => registerPrometheus(other, { register, labels: { region: 'eu' } }),
      (error: unknown) => error instanceof MetricsRegistrationError && error.code === 'E_METRICS_CONFLICT',
    )
    const separate = registerPrometheus(twin, { register: new Registry() })
    separate.unregister()
    handle.unregister()
    new Counter({ name: 'writebehind_writes_total', help: 'someone else’s', registers: [register] })
    assert.throws(
      () => registerPrometheus(other, { register }),
      (error: unknown) => error instanceof MetricsRegistrationError && error.code === 'E_METRICS_CONFLICT' && error.metric === 'writebehind_writes_total',
    )
    assert.deepEqual([...(await scrape(register)).types.keys()], ['writebehind_writes_total'], 'a refused registration leaves no metric behind')
    register.removeSingleMetric('writebehind_writes_total')
    registerPrometheus(other, { register, labels: { region: 'eu' } }).unregister()
    const prefixed = registerPrometheus(other, { register, prefix: 'orders_' })
    await other.set('k', 1)
    assert.equal(sum(await scrape(register), 'orders_writes_total', { cache: 'other' }), 1)
    prefixed.unregister()
    for (const c of [cache, twin, other]) await c.close()
  })

  it('never makes a label of a key: every label value is the cache’s, a static one, or of its closed set', async () => {
    const register = new Registry()
    const { cache, clock } = await openTestCache(new MemoryStore(), { name: 'keys' })
    const handle = registerPrometheus(cache, { register, labels: { env: 'test' } })
    for (let i = 0; i < 50; i++) await cache.set(`user:${i}:"quoted"\n`, { i })
    await cache.delete('user:1:"quoted"\n')
    await flushOn(cache, clock)
    const allowed = new Set<string>([...Object.values(LABEL_VALUES).flat(), 'keys', 'test'])
    const { samples } = await scrape(register)
    const strays = samples.flatMap((s) => Object.entries(s.labels).filter(([name, value]) => name !== 'le' && !allowed.has(value)))
    assert.deepEqual(strays, [])
    assert.ok(samples.length > 0)
    handle.unregister()
    await cache.close()
  })

  it('counts the records open() replayed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wb-prom-recovery-'))
    try {
      const clock = new FakeClock()
      const inner = new MemoryStore()
      const store = new OutageStore(inner, clock, { from: 0, to: Infinity })
      const { cache } = await openTestCache(store, { clock, dir, name: 'replay', closeTimeoutMs: 100, checkStore: false })
      for (let i = 0; i < 12; i++) await cache.set(`k${i}`, i)
      const closing = cache.close()
      for (let i = 0; i < 10; i++) await clock.advance(100)
      assert.equal((await closing).drained, false)
      const { cache: reopened } = await openTestCache(inner, { dir, name: 'replay' })
      const register = new Registry()
      const handle = registerPrometheus(reopened, { register })
      const exposition = await scrape(register)
      assert.equal(reopened.recovery?.records, 12)
      assert.equal(sum(exposition, 'writebehind_recovery_records_total', { cache: 'replay' }), 12)
      assert.equal(sum(exposition, 'writebehind_log_bytes'), reopened.stats().log?.bytes)
      assert.equal(sum(exposition, 'writebehind_log_segments'), reopened.stats().log?.segments)
      handle.unregister()
      await reopened.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it("publishes on prom-client's global register by default, and on an OpenMetrics registry, whose JSON and reset work too", async () => {
    const { cache } = await openTestCache(new MemoryStore(), { name: 'global' })
    const handle = registerPrometheus(cache)
    await cache.set('k', 1)
    assert.equal(sum(await scrape(globalRegister), 'writebehind_writes_total', { cache: 'global' }), 1)
    handle.unregister()
    assert.equal(globalRegister.getSingleMetric('writebehind_writes_total'), undefined)

    const open = new Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>()
    open.setContentType(Registry.OPENMETRICS_CONTENT_TYPE)
    const openHandle = registerPrometheus(cache, { register: open })
    await cache.set('k', 2)
    const text = await open.metrics()
    assert.match(text, /^writebehind_writes_total\{cache="global",op="set",durability="memory",result="ok"\} 1$/m)
    assert.match(text, /^writebehind_ack_duration_seconds_count\{cache="global",durability="memory"\} 1$/m)
    assert.match(text, /# EOF\n$/)
    const json = await open.getMetricsAsJSON()
    assert.equal(json.find((m) => m.name === 'writebehind_ack_duration_seconds')?.type, 'histogram')
    open.resetMetrics()
    assert.equal(sum(parseExposition((await open.metrics()).replace('# EOF', '')), 'writebehind_ack_duration_seconds_count'), 0)
    openHandle.unregister()
    await cache.close()
  })

  it('checks its options at the door', async () => {
    const register = new Registry()
    const { cache } = await openTestCache(new MemoryStore(), { name: 'door' })
    const bad: Array<[unknown, string]> = [
      [{ register, prefix: '9bad' }, 'prefix'],
      [{ register, prefix: 'with space' }, 'prefix'],
      [{ register, labels: { cache: 'x' } }, 'labels.cache'],
      [{ register, labels: { le: 'x' } }, 'labels.le'],
      [{ register, labels: { 'bad-name': 'x' } }, 'labels.bad-name'],
      [{ register, labels: { ok: 1 } }, 'labels.ok'],
      [{ register, labels: 'service=api' }, 'labels'],
    ]
    for (const [options, option] of bad) {
      assert.throws(
        () => registerPrometheus(cache, options as never),
        (error: unknown) => error instanceof TypeError && (error as { option?: string }).option === option,
        option,
      )
    }
    assert.throws(() => registerPrometheus({} as never, { register }), { code: 'E_INVALID_OPTION', option: 'cache' })
    assert.deepEqual((await scrape(register)).samples, [], 'nothing was registered')
    await cache.close()
  })

  it('names a missing peer package with a coded error', () => {
    assert.throws(
      () => loadPeer('writebehind-no-such-package', 'registerSomething'),
      (error: unknown) =>
        error instanceof PeerMissingError && error.code === 'E_PEER_MISSING' && error.peer === 'writebehind-no-such-package' && /npm install writebehind-no-such-package/.test(error.message),
    )
  })
})
