// increment, max and min on the cache with a real MemoryStore: coalescing into one store op per key
// per flush, read-through of the base, refusals at the door, merges over sets and deletes, and what
// happens to a merge the store refuses (dead-lettered; the key's later merges wait behind it).
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { InvalidOptionError, MemoryStore, NotANumberError, type Store, type StoreOp } from '../../src/index.js'
import { setOp } from '../../src/testing/index.js'
import { FlakyStore, PoisonStore, RefusingStore } from '../helpers/faulty-stores.js'
import { openTestCache } from '../helpers/open.js'
import { seededRandom } from '../helpers/seeded-random.js'

/** Ops the store was sent, in order (the inner store applies them). */
function recording(inner: Store): { store: Store; seen: StoreOp[] } {
  const seen: StoreOp[] = []
  const store: Store = { merges: inner.merges, writeBatch: async (ops) => (seen.push(...ops), inner.writeBatch(ops)), load: (keys) => inner.load(keys) }
  return { store, seen }
}

/**
 * Another writer puts `value` under `key` in the store, with a version just above the one there;
 * the cache's versions are first moved well past it (by writes to another key), so that the cache's
 * next writes are newer than this one and the one after it.
 */
async function writeElsewhere(cache: { increment(key: string): Promise<number> }, inner: MemoryStore, key: string, value: unknown): Promise<void> {
  for (let i = 0; i < 10; i++) await cache.increment('pad')
  await inner.writeBatch([setOp(key, (inner.versionOf(key) ?? 0) + 1, value)])
}

/** Runs the fake clock until `promise` settles (flushes, backoffs and retries run on it). */
async function drive<T>(clock: { advance(ms: number): Promise<void> }, promise: Promise<T>, stepMs = 100, steps = 2000): Promise<T> {
  let done = false
  const watched = promise.finally(() => (done = true))
  for (let i = 0; i < steps && !done; i++) await clock.advance(stepMs)
  if (!done) throw new Error(`still pending after ${steps * stepMs} ms of fake time`)
  return watched
}

describe('increment', () => {
  it('resolves with the new value; 100 concurrent increments of an uncached key read it once and reach the store as one op', async () => {
    const inner = new MemoryStore()
    await inner.writeBatch([setOp('n', 1, 10)])
    const { store, seen } = recording(inner)
    const { cache } = await openTestCache(store, { flush: { intervalMs: 60_000 } })
    const values = await Promise.all(Array.from({ length: 100 }, () => cache.increment('n')))
    assert.deepEqual(
      values.sort((a, b) => a - b),
      Array.from({ length: 100 }, (_, i) => 11 + i),
      'each caller sees its own increment',
    )
    assert.equal(cache.stats().reads.loads, 1, 'one read-through for all of them')
    assert.equal(await cache.get('n'), 110)
    await cache.flush()
    assert.deepEqual(
      seen.map((op) => [op.kind, op.key, op.kind === 'merge' ? [op.merge, op.operand] : null]),
      [['merge', 'n', ['sum', 100]]],
    )
    assert.equal(inner.snapshot().get('n'), 110)
    await cache.close()
  })

  it('starts a missing or deleted key at 0, takes negative and fractional steps, and costs one op per key per flush', async () => {
    const inner = new MemoryStore()
    const { store, seen } = recording(inner)
    const { cache } = await openTestCache(store, { flush: { intervalMs: 60_000 } })
    assert.equal(await cache.increment('a', 5), 5)
    assert.equal(await cache.increment('a', -2), 3)
    assert.equal(await cache.increment('b', 0.5), 0.5)
    await cache.flush()
    await cache.delete('a')
    assert.equal(await cache.increment('a'), 1, 'a deleted key counts as 0')
    for (let i = 0; i < 50; i++) await cache.increment(`k${i % 5}`)
    await cache.flush()
    assert.deepEqual(
      inner.snapshot(),
      new Map<string, unknown>([
        ['a', 1],
        ['b', 0.5],
        ['k0', 10],
        ['k1', 10],
        ['k2', 10],
        ['k3', 10],
        ['k4', 10],
      ]),
    )
    assert.equal(seen.length, 2 + 6, '2 ops in the first flush; the delete folded into a set of 1, and one op per counter, in the second')
    await cache.close()
  })

  it('folds into a pending set (the op stays a set), and a set replaces pending increments', async () => {
    const inner = new MemoryStore()
    const { store, seen } = recording(inner)
    const { cache } = await openTestCache(store, { flush: { intervalMs: 60_000 } })
    await cache.set('s', 100)
    await cache.increment('s', 5)
    await cache.increment('t', 5)
    await cache.set('t', 7)
    await cache.flush()
    assert.deepEqual(
      seen.map((op) => [op.kind, op.key, op.kind === 'set' ? op.value : null]),
      [
        ['set', 's', 105],
        ['set', 't', 7],
      ],
    )
    assert.deepEqual(
      inner.snapshot(),
      new Map<string, unknown>([
        ['s', 105],
        ['t', 7],
      ]),
    )
    await cache.close()
  })

  it('is refused at the door when the store lists no sum merges or `by` is not a finite number, and for a value that is not a number', async () => {
    const inner = new MemoryStore()
    const plain: Store = { writeBatch: (ops) => inner.writeBatch(ops), load: (keys) => inner.load(keys) }
    const without = await openTestCache(plain)
    await assert.rejects(without.cache.increment('n'), (error: unknown) => error instanceof InvalidOptionError && error.option === 'store' && /'sum' merge ops/.test(error.message))
    await without.cache.close()
    const { cache } = await openTestCache(new MemoryStore())
    for (const by of [Number.NaN, Infinity, '1', null]) await assert.rejects(cache.increment('n', by as number), { code: 'E_INVALID_OPTION', option: 'by' })
    await assert.rejects(cache.max('n', undefined as unknown as number), { code: 'E_INVALID_OPTION', option: 'value' })
    await cache.set('text', 'hello')
    await assert.rejects(cache.increment('text'), (error: unknown) => error instanceof NotANumberError && error.key === 'text')
    await assert.rejects(
      cache.increment('huge', Number.MAX_VALUE).then(() => cache.increment('huge', Number.MAX_VALUE)),
      NotANumberError,
    )
    assert.equal(await cache.get('text'), 'hello', 'nothing was written')
    assert.equal(await cache.get('huge'), Number.MAX_VALUE)
    await cache.close()
  })

  it('at durability store resolves once the store holds it', async () => {
    const inner = new MemoryStore()
    const { cache } = await openTestCache(inner, { flush: { intervalMs: 60_000 } })
    await cache.increment('n', 2)
    assert.equal(await cache.increment('n', 3, { durability: 'store' }), 5)
    assert.equal(inner.snapshot().get('n'), 5)
    await cache.close()
  })

  it('with coalesce: false sends each increment as its own op, never two of one key in a batch, exactly once under a flaky store', async () => {
    const inner = new MemoryStore()
    const batches: StoreOp[][] = []
    const flaky = new FlakyStore(inner, { failRate: 0.4, random: seededRandom(7) })
    const store: Store = { merges: inner.merges, writeBatch: async (ops) => (batches.push([...ops]), flaky.writeBatch(ops)), load: (keys) => inner.load(keys) }
    const { cache, clock } = await openTestCache(store, { coalesce: false, flush: { intervalMs: 10, batchSize: 50 }, retry: { maxAttempts: 1000, baseDelayMs: 5, maxDelayMs: 20 } })
    let sum = 0
    for (let i = 1; i <= 60; i++) {
      sum += i
      await cache.increment(`k${i % 3}`, i)
    }
    await drive(clock, cache.flush())
    assert.equal(
      [0, 1, 2].reduce((total, k) => total + (inner.snapshot().get(`k${k}`) as number), 0),
      sum,
    )
    for (const batch of batches) {
      const keys = batch.filter((op) => op.kind === 'merge').map((op) => op.key)
      assert.equal(new Set(keys).size, keys.length, 'no batch holds two merges of one key')
    }
    assert.ok(flaky.appliedThenFailed > 0, 'some batches were applied, then failed, then redelivered')
    await cache.close()
  })
})

describe('max and min', () => {
  it('keep the highest and lowest value, a missing key taking the operand, and combine to one op per key', async () => {
    const inner = new MemoryStore()
    const { store, seen } = recording(inner)
    const { cache } = await openTestCache(store, { flush: { intervalMs: 60_000 } })
    assert.deepEqual(await Promise.all([cache.max('hi', 3), cache.max('hi', 9), cache.max('hi', 4)]), [3, 9, 9])
    assert.deepEqual(await Promise.all([cache.min('lo', 3), cache.min('lo', -1), cache.min('lo', 0)]), [3, -1, -1])
    await cache.flush()
    assert.deepEqual(
      seen.map((op) => (op.kind === 'merge' ? [op.key, op.merge, op.operand] : op.kind)),
      [
        ['hi', 'max', 9],
        ['lo', 'min', -1],
      ],
    )
    assert.deepEqual(
      inner.snapshot(),
      new Map<string, unknown>([
        ['hi', 9],
        ['lo', -1],
      ]),
    )
    await cache.close()
  })

  it('land right when redelivered (applied, then failed, then sent again) and mixed with increments', async () => {
    const inner = new MemoryStore()
    const random = seededRandom(11)
    const flaky = new FlakyStore(inner, { failRate: 0.5, applyThenFailRate: 1, random })
    const { cache, clock } = await openTestCache(flaky, { flush: { intervalMs: 10 }, retry: { maxAttempts: 1000, baseDelayMs: 5, maxDelayMs: 20 } })
    let best = -Infinity
    let least = Infinity
    for (let i = 0; i < 200; i++) {
      const score = Math.floor(random() * 1000)
      best = Math.max(best, score)
      least = Math.min(least, score)
      await cache.max('best', score)
      await cache.min('least', score)
      if (i % 20 === 0) await clock.advance(15)
    }
    await drive(clock, cache.flush())
    assert.ok(flaky.appliedThenFailed > 0)
    assert.equal(inner.snapshot().get('best'), best)
    assert.equal(inner.snapshot().get('least'), least)
    await cache.max('best', best + 1)
    await cache.increment('best', 10)
    await drive(clock, cache.flush())
    assert.equal(inner.snapshot().get('best'), best + 11, 'a max then an increment between flushes go as a set of the value')
    await cache.close()
  })
})

describe('a merge the store refuses', () => {
  it("is dead-lettered; the key's later increments wait behind it (flush() does not), and go once it is replayed: exact", async () => {
    const inner = new MemoryStore()
    const { store, seen } = recording(inner)
    const { cache, clock } = await openTestCache(store, { flush: { intervalMs: 60_000 }, retry: { maxAttempts: 2, baseDelayMs: 10 } })
    assert.equal(await cache.increment('n', 5), 5)
    await cache.flush()
    await writeElsewhere(cache, inner, 'n', 'text') // another writer puts a string there
    await cache.increment('n', 1)
    await cache.increment('other', 1) // lands: the proof that the store takes writes
    const report = await drive(clock, cache.flush())
    assert.deepEqual(
      report.deadLettered.map((l) => [l.key, l.kind, l.merge, l.operand, l.encoded]),
      [['n', 'merge', 'sum', 1, '6']],
    )
    const sent = seen.length
    await cache.increment('n', 2)
    await cache.increment('n', 3)
    await drive(clock, cache.flush()) // resolves: held increments do not keep flush() waiting
    assert.equal(seen.filter((op) => op.key === 'n').length, seen.slice(0, sent).filter((op) => op.key === 'n').length, 'no later increment of n was sent past the letter')
    assert.equal(await cache.get('n'), 11)
    assert.equal(cache.stats().backlog.entries, 1, 'they wait in the backlog')
    await inner.writeBatch([setOp('n', (inner.versionOf('n') ?? 0) + 1, 100)]) // the row is fixed (by a write older than the letter)
    const replayed = await drive(clock, cache.replayDeadLetters())
    assert.equal(replayed.replayed, 1)
    await drive(clock, cache.flush())
    assert.equal(inner.snapshot().get('n'), 106, 'the fixed row plus the letter (1) and the held increments (2 + 3), each once')
    assert.deepEqual(cache.deadLetters(), [])
    await cache.close()
  })

  it('keeps its kind and operand across a restart, and so do the increments held behind it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wb-merge-letter-'))
    try {
      const inner = new MemoryStore()
      const first = await openTestCache(inner, { dir, flush: { intervalMs: 60_000 }, retry: { maxAttempts: 2, baseDelayMs: 10 }, closeTimeoutMs: 100 })
      await first.cache.increment('n', 5)
      await first.cache.flush()
      await writeElsewhere(first.cache, inner, 'n', 'text')
      await first.cache.increment('n', 1)
      await first.cache.increment('other', 1)
      await drive(first.clock, first.cache.flush())
      await first.cache.increment('n', 2)
      const closing = first.cache.close()
      await first.clock.advance(200)
      assert.deepEqual((await closing).unflushedKeys, ['n'], 'the held increment is left in the log')

      const second = await openTestCache(inner, { dir, flush: { intervalMs: 60_000 } })
      assert.deepEqual(
        second.cache.deadLetters().map((l) => [l.key, l.kind, l.merge, l.operand]),
        [['n', 'merge', 'sum', 1]],
      )
      assert.equal(await second.cache.get('n'), 8)
      await drive(second.clock, second.cache.flush())
      assert.equal(inner.snapshot().get('n'), 'text', 'still held behind the letter after the restart')
      await inner.writeBatch([setOp('n', (inner.versionOf('n') ?? 0) + 1, 100)])
      await drive(second.clock, second.cache.replayDeadLetters())
      await drive(second.clock, second.cache.flush())
      assert.equal(inner.snapshot().get('n'), 103)
      await second.cache.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('dropped: the held increments go, and the cached value is read again once they are in', async () => {
    const inner = new MemoryStore()
    const { cache, clock } = await openTestCache(inner, { flush: { intervalMs: 60_000 }, retry: { maxAttempts: 2, baseDelayMs: 10 } })
    await cache.increment('n', 5)
    await cache.flush()
    await writeElsewhere(cache, inner, 'n', 'text')
    await cache.increment('n', 1)
    await cache.increment('other', 1)
    await drive(clock, cache.flush())
    await cache.increment('n', 2)
    await inner.writeBatch([setOp('n', (inner.versionOf('n') ?? 0) + 1, 40)])
    assert.equal(await cache.dropDeadLetters(), 1)
    await drive(clock, cache.flush())
    assert.equal(inner.snapshot().get('n'), 42, 'the dropped increment never lands; the held one does')
    assert.equal(await cache.get('n'), 42, 'the cache reads the key again instead of serving a value with the dropped increment in it')
    await cache.close()
  })

  it('over a dead-lettered set, a pending increment goes as a set of the whole value, which retires the letter', async () => {
    const inner = new MemoryStore()
    let poisoned = true
    const store = new PoisonStore(inner, { isPoison: (op) => poisoned && op.kind === 'set' && op.key === 'n', mode: 'per-op' })
    const { cache, clock } = await openTestCache(store, { flush: { intervalMs: 60_000 }, retry: { maxAttempts: 2, baseDelayMs: 10 } })
    await cache.set('n', 13)
    await cache.set('other', 1)
    const report = await drive(clock, cache.flush())
    assert.deepEqual(
      report.deadLettered.map((l) => [l.key, l.kind]),
      [['n', 'set']],
    )
    poisoned = false
    assert.equal(await cache.increment('n', 1), 14)
    await drive(clock, cache.flush())
    assert.equal(inner.snapshot().get('n'), 14, 'not 1: the increment builds on the set the store never got')
    assert.deepEqual(cache.deadLetters(), [], 'the set of 14 retired the letter of 13')
    await cache.close()
  })
})

describe('a held write followed by increments', () => {
  it('is not replaced by them: the increments are deltas on top of it', async () => {
    const inner = new MemoryStore()
    const store = new RefusingStore(inner)
    const { cache, clock } = await openTestCache(store, { flush: { intervalMs: 10 }, retry: { baseDelayMs: 10, maxDelayMs: 50 } })
    await cache.set('n', 100)
    await clock.advance(200) // refused without proof: held in its flight
    await cache.increment('n', 1)
    await clock.advance(200)
    store.refusing = false
    await drive(clock, cache.flush())
    assert.equal(inner.snapshot().get('n'), 101)
    await cache.close()
  })
})

describe('increments in global order', () => {
  it("land exactly under a flaky store; past a skipped halted increment, the key's next ones go as a set of its value", async () => {
    const inner = new MemoryStore()
    const flaky = new FlakyStore(inner, { failRate: 0.3, random: seededRandom(5) })
    const { cache, clock } = await openTestCache(flaky, { flush: { order: 'global', concurrency: 1, intervalMs: 10 }, retry: { baseDelayMs: 5, maxDelayMs: 20, circuitThreshold: 1000 } })
    const sums = [0, 0, 0, 0]
    for (let i = 0; i < 100; i++) {
      sums[i % 4]! += 1 + (i % 3)
      await cache.increment(`k${i % 4}`, 1 + (i % 3))
    }
    await drive(clock, cache.flush())
    assert.deepEqual(
      [0, 1, 2, 3].map((k) => inner.snapshot().get(`k${k}`)),
      sums,
    )
    let halted = 0
    cache.on('flush:halted', () => halted++)
    await writeElsewhere(cache, inner, 'k0', 'text')
    await cache.increment('k0', 1)
    for (let i = 0; i < 50 && halted === 0; i++) await clock.advance(20)
    assert.equal(halted, 1, 'the refused increment halts flushing')
    assert.equal(cache.skipHalted(), 1)
    await drive(clock, cache.flush())
    assert.deepEqual(
      cache.deadLetters().map((l) => [l.key, l.kind]),
      [['k0', 'merge']],
    )
    assert.equal(await cache.increment('k0', 1), sums[0]! + 2)
    await drive(clock, cache.flush())
    assert.equal(inner.snapshot().get('k0'), sums[0]! + 2, 'a set of the whole value, with the skipped increment in it')
    assert.deepEqual(cache.deadLetters(), [], 'which retired the letter')
    await cache.close()
  })

  it('two halted increments of one key, both skipped, keep both deltas in the dead-letter queue', async () => {
    const inner = new MemoryStore()
    let poisoned = true
    const store = new PoisonStore(inner, { isPoison: (op) => poisoned && op.kind === 'merge', mode: 'per-op' })
    const { cache, clock } = await openTestCache(store, {
      coalesce: false,
      flush: { order: 'global', intervalMs: 10 },
      retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 20, circuitThreshold: 1000 },
    })
    let halted = 0
    cache.on('flush:halted', () => halted++)
    await cache.increment('n', 1)
    await cache.increment('n', 2)
    for (let i = 0; i < 100 && halted < 2; i++) await clock.advance(20)
    assert.equal(halted, 2, 'each increment is its own op (coalesce: false), and both halt')
    assert.equal(cache.skipHalted(), 2)
    await drive(clock, cache.flush())
    assert.deepEqual(
      cache.deadLetters().map((l) => [l.key, l.kind, l.operand]),
      [['n', 'merge', 3]],
      'one letter per key, carrying both deltas',
    )
    poisoned = false
    assert.equal((await drive(clock, cache.replayDeadLetters())).replayed, 1)
    assert.equal(inner.snapshot().get('n'), 3, 'not 2: the first delta is not lost')
    await cache.close()
  })
})
