/**
 * Cross-key order (`flush.order: 'global'`), checked by a store that records the order in which
 * writes took effect: with many keys, random coalescing and a flaky store, versions land strictly
 * increasing, and the same check fails in key order; batches are ranges of versions (after each
 * one the store holds a state the cache went through); a failing batch holds back every later
 * one; a write-through waits its turn; a poison write halts flushing until its key is written
 * again or the store takes it. The same check on SQLite: test/integration/flush-order-sqlite.test.ts.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { isDeepStrictEqual } from 'node:util'
import { BacklogFullError, InvalidOptionError, MemoryStore, type CacheOptions, type Store, type StoreOp, type BatchResult, type WriteBehindCache } from '../../src/index.js'
import { FakeClock } from '../../src/testing/fake-clock.js'
import { FlakyStore, GatedStore, OutageStore, PoisonStore } from '../helpers/faulty-stores.js'
import { openTestCache } from '../helpers/open.js'
import { seededRandom } from '../helpers/seeded-random.js'

/** A MemoryStore that records the version of every op that changed it, in the order they took effect. */
class RecordingStore extends MemoryStore {
  readonly applied: number[] = []

  constructor(private readonly afterBatch?: () => void) {
    super()
  }

  override async writeBatch(ops: readonly StoreOp[]): Promise<BatchResult> {
    const held = new Map<string, number>()
    const changed: number[] = []
    for (const op of ops) {
      const before = held.get(op.key) ?? this.versionOf(op.key) ?? 0
      if (op.version <= before) continue // fenced: a redelivery changes nothing
      changed.push(op.version)
      held.set(op.key, op.version)
    }
    const result = await super.writeBatch(ops)
    this.applied.push(...changed)
    this.afterBatch?.()
    return result
  }
}

/** The first place where `versions` does not increase, or undefined when it always does. */
function firstInversion(versions: readonly number[]): string | undefined {
  for (let i = 1; i < versions.length; i++) {
    if ((versions[i] as number) <= (versions[i - 1] as number)) return `#${i}: ${versions[i]} after ${versions[i - 1]}`
  }
  return undefined
}

async function flushOn(cache: { flush(): Promise<unknown> }, clock: FakeClock, stepMs = 50): Promise<void> {
  let done = false
  const flushing = cache.flush().then(() => (done = true))
  for (let i = 0; i < 100_000 && !done; i++) await clock.advance(stepMs)
  await flushing
}

/** The next batch to reach the gate, moving the clock until one does. */
async function nextBatchOn(gated: GatedStore, clock: FakeClock): Promise<readonly StoreOp[]> {
  let batch: readonly StoreOp[] | undefined
  const next = gated.nextBatch().then((ops) => (batch = ops))
  for (let i = 0; i < 1000 && batch === undefined; i++) await clock.advance(10)
  return next
}

const keysOf = (ops: readonly StoreOp[]): string[] => ops.map((op) => op.key)

interface Write {
  readonly version: number
  readonly key: string
  /** undefined for a delete. */
  readonly value: number | undefined
}

/**
 * 3000 random writes (10% deletes) over 300 keys, with the clock moved a random 0-150 ms every few
 * writes so that the interval cuts batches at random points (random coalescing); then a flush.
 * Returns the writes with their versions, and the model of the final state.
 */
async function randomWorkload(cache: WriteBehindCache, clock: FakeClock, seed: number): Promise<{ writes: Write[]; model: Map<string, number> }> {
  const random = seededRandom(seed)
  const model = new Map<string, number>()
  const writes: Write[] = []
  for (let i = 0; i < 3000; i++) {
    const key = `k${Math.floor(random() * 300)}`
    const value = random() < 0.1 ? undefined : i
    if (value === undefined) {
      await cache.delete(key)
      model.delete(key)
    } else {
      await cache.set(key, value)
      model.set(key, value)
    }
    writes.push({ version: cache.stats().lastVersion, key, value })
    if (random() < 0.05) await clock.advance(Math.floor(random() * 150))
  }
  await flushOn(cache, clock)
  return { writes, model }
}

function orderOptions(order: 'key' | 'global', coalesce: boolean): Partial<CacheOptions> {
  return {
    coalesce,
    flush: { order, batchSize: 16, intervalMs: 100, ...(order === 'key' ? { concurrency: 2 } : {}) },
    retry: { maxAttempts: 1000, baseDelayMs: 10, maxDelayMs: 200, circuitThreshold: 1000 },
  }
}

describe("flush.order 'global', recorded by the store", () => {
  for (const coalesce of [true, false]) {
    it(`lands every write in version order through random failures, retries and bisections (coalesce: ${coalesce})`, async () => {
      const recorder = new RecordingStore()
      const flaky = new FlakyStore(recorder, { failRate: 0.3, random: seededRandom(11) })
      const { cache, clock } = await openTestCache(flaky, orderOptions('global', coalesce))
      let splits = 0
      cache.on('flush:failed', ({ retryInMs }) => void (retryInMs === 0 && splits++))
      const { model } = await randomWorkload(cache, clock, 5)
      assert.equal(firstInversion(recorder.applied), undefined, 'versions land strictly increasing')
      assert.deepEqual(recorder.snapshot(), model, 'the store ends equal to the cache')
      assert.ok(flaky.counters.failedCalls > 50, `the store failed ${flaky.counters.failedCalls} batches`)
      assert.ok(flaky.appliedThenFailed > 0, 'some batches were applied, then failed, then redelivered')
      assert.ok(splits > 0, 'some batches failed often enough to be bisected')
      assert.equal(cache.stats().deadLetters, 0)
      await cache.close()
    })
  }

  it('the same check fails in key order with concurrency 2: it tells the two apart', async () => {
    const recorder = new RecordingStore()
    const flaky = new FlakyStore(recorder, { failRate: 0.3, random: seededRandom(11) })
    const { cache, clock } = await openTestCache(flaky, orderOptions('key', true))
    const { model } = await randomWorkload(cache, clock, 5)
    assert.deepEqual(recorder.snapshot(), model)
    assert.notEqual(firstInversion(recorder.applied), undefined, 'in key order a retried batch lands after later ones')
    await cache.close()
  })

  it('after every batch the store holds the state the cache had at that batch’s highest version', async () => {
    let writes: readonly Write[] = []
    const expected = new Map<string, number>()
    let replayed = 0
    let highest = 0
    let checked = 0
    let mismatch: string | undefined
    const recorder = new RecordingStore(() => {
      highest = Math.max(highest, ...recorder.applied.slice(-1))
      for (; replayed < writes.length && (writes[replayed] as Write).version <= highest; replayed++) {
        const w = writes[replayed] as Write
        if (w.value === undefined) expected.delete(w.key)
        else expected.set(w.key, w.value)
      }
      // Noted, not thrown: a throw here would be a failed batch, retried.
      if (mismatch === undefined && !isDeepStrictEqual(recorder.snapshot(), expected)) mismatch = `after the batch up to v${highest}`
      checked++
    })
    const { cache, clock } = await openTestCache(recorder, { flush: { order: 'global', batchSize: 8, intervalMs: 100 } })
    // The writes are known only as they are made: the check reads them through this live list.
    const live: Write[] = []
    writes = live
    const random = seededRandom(3)
    for (let i = 0; i < 3000; i++) {
      // A few hot keys rewritten among many cold ones: a hot key's earlier write is in a range that
      // a later batch would otherwise leave without it.
      const key = random() < 0.3 ? `hot${Math.floor(random() * 5)}` : `k${Math.floor(random() * 500)}`
      const value = random() < 0.1 ? undefined : i
      await (value === undefined ? cache.delete(key) : cache.set(key, value))
      live.push({ version: cache.stats().lastVersion, key, value })
      if (random() < 0.05) await clock.advance(Math.floor(random() * 150))
    }
    await flushOn(cache, clock)
    assert.equal(mismatch, undefined, 'the store went through states the cache went through')
    assert.ok(checked > 100, `${checked} batches checked`)
    assert.equal(firstInversion(recorder.applied), undefined)
    await cache.close()
  })
})

describe("flush.order 'global', batch by batch", () => {
  it('a key rewritten after another key was written does not jump ahead of it: both go, in version order', async () => {
    for (const order of ['key', 'global'] as const) {
      const gated = new GatedStore(new MemoryStore())
      const { cache, clock } = await openTestCache(gated, { flush: { order, batchSize: 1 } })
      await cache.set('a', 1)
      await cache.set('b', 1)
      await cache.set('a', 2)
      const flushing = cache.flush()
      const batch = await nextBatchOn(gated, clock)
      if (order === 'global') {
        assert.deepEqual(keysOf(batch), ['b', 'a'], 'global: the range up to a’s latest write, which holds b, sorted')
        assert.ok((batch[0] as StoreOp).version < (batch[1] as StoreOp).version)
      } else {
        assert.deepEqual(keysOf(batch), ['a'], 'key order: a alone, at its latest value, before b')
      }
      await gated.open()
      await flushOn(cache, clock)
      await flushing
      await cache.close()
    }
  })

  it('a failing batch holds back every later one until it lands', async () => {
    for (const order of ['key', 'global'] as const) {
      const gated = new GatedStore(new MemoryStore())
      const { cache, clock } = await openTestCache(gated, { flush: { order, batchSize: 2 }, retry: { baseDelayMs: 1000, maxDelayMs: 1000 } })
      for (const key of ['a', 'b', 'c', 'd', 'e', 'f']) await cache.set(key, 1)
      const flushing = cache.flush()
      assert.deepEqual(keysOf(await nextBatchOn(gated, clock)), ['a', 'b'])
      gated.fail()
      if (order === 'key') {
        assert.deepEqual(keysOf(await nextBatchOn(gated, clock)), ['c', 'd'], 'key order: the next batch goes beside the failing one')
      } else {
        assert.deepEqual(keysOf(await nextBatchOn(gated, clock)), ['a', 'b'], 'global order: nothing goes before the retry')
        assert.equal(gated.pending, 1)
        await gated.release()
        assert.deepEqual(keysOf(await nextBatchOn(gated, clock)), ['c', 'd'], 'then the next range')
      }
      await gated.open()
      await flushOn(cache, clock)
      await flushing
      await cache.close()
    }
  })

  it('a write held through an outage keeps its place, even if its key is written again meanwhile', async () => {
    const recorder = new RecordingStore()
    const clock = new FakeClock()
    const outage = new OutageStore(recorder, clock, { from: 0, to: Infinity })
    const { cache } = await openTestCache(outage, { clock, checkStore: false, flush: { order: 'global' }, retry: { baseDelayMs: 100, maxDelayMs: 100, maxAttempts: 2, circuitThreshold: 1000 } })
    await cache.set('a', 1)
    await cache.set('b', 1)
    await clock.advance(2000)
    assert.equal(cache.stats().flush.heldBatches, 1, 'failing past maxAttempts without proof: held, not halted')
    await cache.set('a', 2)
    await clock.advance(2000) // held retries see the newer write of a
    outage.setWindow({ from: 0, to: 0 })
    await flushOn(cache, clock)
    assert.equal(recorder.applied.length, 3, 'a=1, b=1, then a=2: the store never holds b=1 without a=1')
    assert.equal(firstInversion(recorder.applied), undefined)
    await cache.close()
  })

  it('a write-through waits for its turn instead of going first', async () => {
    for (const order of ['key', 'global'] as const) {
      const gated = new GatedStore(new MemoryStore())
      const { cache, clock } = await openTestCache(gated, { flush: { order, batchSize: 1 } })
      await cache.set('a', 1)
      await cache.set('b', 1)
      const through = cache.set('c', 1, { durability: 'store' })
      assert.deepEqual(keysOf(await nextBatchOn(gated, clock)), [order === 'global' ? 'a' : 'c'])
      await gated.open()
      await flushOn(cache, clock)
      await through
      await cache.close()
    }
  })
})

describe("flush.order 'global', a poison write", () => {
  const isPoisonValue = (op: StoreOp): boolean => op.kind === 'set' && (op.value as { bad?: boolean }).bad === true

  it('halts flushing at it: no dead letter, nothing after it lands; writing its key again goes on, in order', async () => {
    const recorder = new RecordingStore()
    const store = new PoisonStore(recorder, { isPoison: isPoisonValue })
    const { cache, clock } = await openTestCache(store, { flush: { order: 'global', batchSize: 10, intervalMs: 100 } })
    const halted: string[] = []
    cache.on('flush:halted', ({ key, error }) => halted.push(`${key} ${(error as { code?: string }).code}`))
    for (let n = 0; n < 100; n++) await cache.set(`row:${n}`, n === 42 ? { bad: true } : { n })
    await clock.advance(60_000)
    assert.deepEqual(halted, ['row:42 E_POISON'], 'one event, naming the write')
    assert.deepEqual(
      [...recorder.snapshot().keys()],
      Array.from({ length: 42 }, (_, n) => `row:${n}`),
      'exactly the writes before it landed',
    )
    assert.equal(cache.deadLetters().length, 0, 'nothing is skipped into the dead-letter queue')
    assert.equal(cache.stats().backlog.entries, 58)
    assert.equal(cache.stats().flush.heldBatches, 1)
    await cache.set('row:42', { n: 42 }) // the fix: a new write of the key replaces the halted one
    await flushOn(cache, clock)
    assert.equal(recorder.snapshot().size, 100)
    assert.deepEqual(recorder.snapshot().get('row:42'), { n: 42 })
    assert.equal(firstInversion(recorder.applied), undefined, 'and all of it in version order')
    assert.deepEqual(halted, ['row:42 E_POISON'])
    await cache.close()
  })

  it('lets the backlog fill (whenFull applies); skipHalted() dead-letters the write and flushing goes on', async () => {
    const recorder = new RecordingStore()
    const store = new PoisonStore(recorder, { isPoison: isPoisonValue })
    const { cache, clock } = await openTestCache(store, {
      flush: { order: 'global', batchSize: 10, intervalMs: 100 },
      backlog: { maxEntries: 60, whenFull: 'reject' },
    })
    for (let n = 0; n < 50; n++) await cache.set(`row:${n}`, n === 12 ? { bad: true } : { n })
    await clock.advance(10_000)
    assert.equal(recorder.snapshot().size, 12)
    for (let n = 50; n < 72; n++) await cache.set(`row:${n}`, { n }) // 38 + 22 = 60 unflushed
    await assert.rejects(cache.set('row:12', { n: 12 }), BacklogFullError, 'full: not even the fix gets in')
    assert.equal(cache.skipHalted(), 1)
    await flushOn(cache, clock)
    assert.deepEqual(
      cache.deadLetters().map((l) => [l.key, l.error.code]),
      [['row:12', 'E_POISON']],
    )
    assert.equal(recorder.snapshot().size, 71, 'everything but the skipped write landed')
    assert.equal(firstInversion(recorder.applied), undefined, 'in version order')
    await cache.close()
  })

  it('halts at a lone write too (no other write in its batch to prove the store healthy), and skipHalted() gets past it', async () => {
    const recorder = new RecordingStore()
    const store = new PoisonStore(recorder, { isPoison: isPoisonValue })
    const { cache, clock } = await openTestCache(store, { flush: { order: 'global', intervalMs: 100 } })
    const halted: string[] = []
    cache.on('flush:halted', ({ key }) => halted.push(key))
    await cache.set('first', { bad: true })
    await clock.advance(1000)
    await cache.set('second', { n: 2 })
    await clock.advance(10_000)
    assert.deepEqual(halted, ['first'])
    assert.equal(recorder.snapshot().size, 0, 'the later write waits behind it')
    assert.equal(cache.skipHalted(), 1)
    await flushOn(cache, clock)
    assert.deepEqual([...recorder.snapshot().keys()], ['second'])
    assert.deepEqual(
      cache.deadLetters().map((l) => l.key),
      ['first'],
    )
    await cache.close()
  })

  it('lands the halted write in its place once the store takes it', async () => {
    const recorder = new RecordingStore()
    let fixed = false
    const store = new PoisonStore(recorder, { isPoison: (op) => !fixed && isPoisonValue(op) })
    const { cache, clock } = await openTestCache(store, { flush: { order: 'global', batchSize: 10, intervalMs: 100 } })
    for (let n = 0; n < 30; n++) await cache.set(`row:${n}`, n === 12 ? { bad: true } : { n })
    await clock.advance(10_000)
    assert.equal(recorder.snapshot().size, 12)
    fixed = true // the table's constraint was relaxed, say
    await flushOn(cache, clock)
    assert.equal(recorder.snapshot().size, 30)
    assert.equal(recorder.applied.length, 30)
    assert.equal(firstInversion(recorder.applied), undefined, 'the halted write landed before the ones after it')
    await cache.close()
  })

  it('with a store that reports per-op failures: the rest of that batch is applied by the store, no later batch goes', async () => {
    const recorder = new RecordingStore()
    const store = new PoisonStore(recorder, { isPoison: isPoisonValue, mode: 'per-op' })
    const { cache, clock } = await openTestCache(store, { flush: { order: 'global', batchSize: 10, intervalMs: 100 } })
    for (let n = 0; n < 50; n++) await cache.set(`row:${n}`, n === 22 ? { bad: true } : { n })
    await clock.advance(10_000)
    const landed = [...recorder.snapshot().keys()].map((key) => Number(key.slice(4))).sort((a, b) => a - b)
    assert.deepEqual(landed, [...Array.from({ length: 22 }, (_, n) => n), ...Array.from({ length: 7 }, (_, i) => 23 + i)])
    assert.equal(cache.deadLetters().length, 0)
    const closing = cache.close()
    await clock.advance(31_000)
    assert.equal((await closing).drained, false, 'still halted at close: row:22 and what follows stay unflushed')
  })
})

describe('flush.order, the option', () => {
  it('is checked at the door, and global order means one batch in flight', async () => {
    const store: Store = new MemoryStore()
    await assert.rejects(
      openTestCache(store, { flush: { order: 'sideways' as 'key' } }),
      (e: unknown) => e instanceof InvalidOptionError && /flush\.order must be one of 'key', 'global'/.test(e.message),
    )
    await assert.rejects(openTestCache(store, { flush: { order: 'global', concurrency: 2 } }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'flush.concurrency')
    const { cache } = await openTestCache(store, { flush: { order: 'global', concurrency: 1 } })
    await cache.close()
  })
})
