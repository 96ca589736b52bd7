import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { BacklogFullError, MemoryStore, WriteBehindCache, type Clock, type StoreOp } from '../../src/index.js'
import { FakeClock, settle } from '../../src/testing/fake-clock.js'
import { GatedStore } from '../helpers/faulty-stores.js'
import { openTestCache } from '../helpers/open.js'

/** A MemoryStore that records every batch it receives. */
class RecordingStore extends MemoryStore {
  readonly batches: StoreOp[][] = []
  override async writeBatch(ops: readonly StoreOp[]) {
    this.batches.push([...ops])
    return super.writeBatch(ops)
  }
}

describe('coalescing', () => {
  it('turns N writes over K keys into at most K store ops per flush, ending at the last writes', async () => {
    const store = new RecordingStore()
    const { cache } = await openTestCache(store, { flush: { batchSize: 1000 } })
    const last = new Map<string, number>()
    for (let i = 0; i < 5000; i++) {
      const key = `k${(i * 7919) % 37}`
      last.set(key, i)
      await cache.set(key, { i })
    }
    await cache.flush()
    const ops = store.batches.flat()
    assert.equal(ops.length, 37)
    assert.deepEqual(store.snapshot(), new Map([...last].map(([k, i]) => [k, { i }])))
    assert.equal(cache.stats().coalescingRatio, 5000 / 37)
    await cache.close()
  })

  it('with coalesce: false flushes every write, in order', async () => {
    const store = new RecordingStore()
    const { cache } = await openTestCache(store, { coalesce: false, flush: { batchSize: 7 } })
    for (let i = 0; i < 50; i++) await cache.set(`k${i % 3}`, i)
    await cache.delete('k1')
    await cache.flush()
    const ops = store.batches.flat()
    assert.equal(ops.length, 51)
    const versions = ops.map((op) => op.version)
    assert.deepEqual(
      versions,
      [...versions].sort((a, b) => a - b),
    )
    assert.deepEqual(
      ops.filter((o) => o.key === 'k0').map((o) => (o.kind === 'set' ? o.value : null)),
      [0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39, 42, 45, 48],
    )
    assert.deepEqual(
      store.snapshot(),
      new Map<string, unknown>([
        ['k0', 48],
        ['k2', 47],
      ]),
    )
    await cache.close()
  })
})

describe('per-key order and exclusivity', () => {
  it('never puts one key in two in-flight batches, and a put then delete ends deleted', async () => {
    const gated = new GatedStore(new MemoryStore())
    const { cache, clock } = await openTestCache(gated, { flush: { batchSize: 2, concurrency: 4, intervalMs: 10, triggerEntries: 2 } })
    await cache.set('a', 1)
    await cache.set('b', 1)
    const first = await gated.nextBatch()
    assert.deepEqual(first.map((o) => o.key).sort(), ['a', 'b'])
    await cache.delete('a')
    await cache.set('c', 1)
    await cache.set('d', 1)
    await clock.advance(20)
    assert.equal(gated.pending, 3, '[a,b] held, then [c] and [d]')
    const others = [await gated.nextBatch(), await gated.nextBatch()]
    assert.deepEqual(
      others
        .flat()
        .map((o) => o.key)
        .sort(),
      ['c', 'd'],
      'a is in flight, so no other batch may hold it',
    )
    await gated.release()
    await clock.advance(20)
    const fourth = await gated.nextBatch()
    assert.deepEqual(
      fourth.map((o) => [o.key, o.kind]),
      [['a', 'delete']],
      'the delete goes once the first batch is done',
    )
    await gated.open()
    await cache.flush()
    assert.deepEqual([...(gated.inner as MemoryStore).snapshot().keys()].sort(), ['b', 'c', 'd'])
    assert.equal(await cache.get('a'), undefined)
    await cache.close()
  })

  it('a delete then a put ends present', async () => {
    const store = new MemoryStore()
    const { cache } = await openTestCache(store)
    await cache.set('k', 'old')
    await cache.flush()
    await cache.delete('k')
    await cache.set('k', 'new')
    await cache.flush()
    assert.equal(store.snapshot().get('k'), 'new')
    await cache.close()
  })
})

describe('bounded staleness', () => {
  it('flushes a key rewritten without pause within maxDelayMs of its first unflushed write', async () => {
    const store = new RecordingStore()
    const { cache, clock } = await openTestCache(store, { flush: { intervalMs: 60_000, maxDelayMs: 1000, batchSize: 10_000 } })
    const firstWriteAt = clock.now()
    let flushedAt: number | undefined
    cache.on('flush', () => (flushedAt ??= clock.now()))
    for (let i = 0; i < 300; i++) {
      await cache.set('hot', i)
      await clock.advance(10)
    }
    assert.ok(flushedAt !== undefined, 'the hot key was never flushed')
    assert.ok(flushedAt - firstWriteAt <= 1000, `flushed ${flushedAt - firstWriteAt} ms after its first write`)
    assert.ok(store.batches.length >= 2, 'a key written for 3 s with maxDelayMs 1 s is flushed at least twice')
    await cache.close()
  })

  it('keeps each dirty key once when the clock steps back to before the cache opened', async () => {
    for (const back of [1, 2, 60_000]) {
      const fake = new FakeClock()
      let offset = 0
      const clock: Clock = { now: () => fake.now() - offset, setTimeout: (fn, ms) => fake.setTimeout(fn, ms), clearTimeout: (handle) => fake.clearTimeout(handle) }
      const store = new MemoryStore()
      const cache = await WriteBehindCache.open({ store, clock, warn: () => {}, flush: { intervalMs: 60_000, maxDelayMs: 60_000 } })
      await new Promise((resolve) => setImmediate(resolve)) // a new macrotask: the tier reads the clock afresh
      offset = back
      await cache.set('a', 1)
      await cache.set('a', 2)
      await cache.set('b', 3)
      assert.equal(cache.stats().backlog.entries, 2, `stepped back ${back} ms`)
      await cache.flush()
      assert.equal(cache.stats().backlog.entries, 0, `stepped back ${back} ms`)
      assert.deepEqual(
        store.snapshot(),
        new Map([
          ['a', 2],
          ['b', 3],
        ]),
      )
      await cache.close()
    }
  })
})

describe('backlog cap', () => {
  it("'reject' fails a write with BacklogFullError and applies nothing", async () => {
    const gated = new GatedStore(new MemoryStore())
    const { cache } = await openTestCache(gated, { backlog: { maxEntries: 3, whenFull: 'reject' }, flush: { batchSize: 100 } })
    for (const k of ['a', 'b', 'c']) await cache.set(k, 1)
    await assert.rejects(cache.set('d', 1), { code: 'E_BACKLOG_FULL' })
    assert.equal(await cache.get('d'), undefined)
    assert.equal(cache.stats().backlog.entries, 3)
    await gated.open()
    await cache.close()
  })

  it("'wait' holds writes until a flush makes room, keeping their order", async () => {
    const gated = new GatedStore(new MemoryStore())
    const { cache, clock } = await openTestCache(gated, { backlog: { maxEntries: 2, whenFull: 'wait' }, flush: { batchSize: 2, intervalMs: 10 } })
    await cache.set('a', 1)
    await cache.set('b', 1)
    const order: string[] = []
    const c = cache.set('c', 1).then(() => order.push('c'))
    const d = cache.set('c', 2).then(() => order.push('c2'))
    await settle()
    assert.equal(cache.stats().backlog.waitingWrites, 2)
    assert.deepEqual(order, [])
    await clock.advance(20)
    await gated.open()
    await Promise.all([c, d])
    assert.deepEqual(order, ['c', 'c2'])
    await cache.flush()
    assert.equal((gated.inner as MemoryStore).snapshot().get('c'), 2)
    await cache.close()
  })

  it("'wait' starts a flush at once: a cap below triggerEntries does not wait for the interval", { timeout: 30_000 }, async () => {
    // The real clock and a 60 s interval: the backlog's 4 entries never reach triggerEntries (the batch size), so before the fix only a tick made room.
    const store = new RecordingStore()
    const cache = await WriteBehindCache.open({ store, warn: () => {}, backlog: { maxEntries: 4, whenFull: 'wait' }, flush: { intervalMs: 60_000, maxDelayMs: 60_000 } })
    // A timer of the test's own keeps the process up (the cache's are unref'd): on the old code the writes fail this bound, not the event loop.
    let deadline: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => (deadline = setTimeout(() => reject(new Error('the waiting writes took over 10 s: they waited for the interval')), 10_000)))
    try {
      await Promise.race([Promise.all(Array.from({ length: 40 }, (_, i) => cache.set(`k${i}`, i))), late])
    } finally {
      clearTimeout(deadline)
    }
    const sizes = store.batches.map((b) => b.length)
    assert.deepEqual(sizes, [4, 4, 4, 4, 4, 4, 4, 4, 4], 'one flush per backlog full of writes (the last 4 are acknowledged before theirs), not one per waiting write')
    await cache.flush()
    assert.equal(store.snapshot().size, 40)
    await cache.close()
  })

  it("'wait' bounds the writes waiting (backlog.maxWaiting): writers that do not await get BacklogFullError past it", async () => {
    const gated = new GatedStore(new MemoryStore())
    const { cache, clock } = await openTestCache(gated, { backlog: { maxEntries: 2, whenFull: 'wait', maxWaiting: 3 }, flush: { batchSize: 2, intervalMs: 10 } })
    await cache.set('a', 1)
    await cache.set('b', 1)
    const outcomes = Array.from({ length: 10 }, (_, i) =>
      cache.set(`w${i}`, i).then(
        () => 'ok',
        (e: unknown) => e,
      ),
    )
    await settle()
    assert.equal(cache.stats().backlog.waitingWrites, 3)
    await clock.advance(20)
    await gated.open()
    const results = await Promise.all(outcomes)
    assert.deepEqual(results.slice(0, 3), ['ok', 'ok', 'ok'])
    for (const e of results.slice(3)) {
      assert.ok(e instanceof BacklogFullError && e.code === 'E_BACKLOG_FULL' && e.waiting === 3 && /backlog\.maxWaiting/.test(e.message), String(e))
    }
    await cache.flush()
    assert.deepEqual([...(gated.inner as MemoryStore).snapshot().keys()].sort(), ['a', 'b', 'w0', 'w1', 'w2'])
    assert.equal(await cache.get('w3'), undefined, 'a refused write applied nothing')
    await cache.close()
  })

  it("'wait' holds the waiting writes' keys and values to backlog.maxBytes too", async () => {
    const gated = new GatedStore(new MemoryStore())
    const { cache, clock } = await openTestCache(gated, { backlog: { maxEntries: 1, maxBytes: 1000, whenFull: 'wait' }, flush: { batchSize: 2, intervalMs: 10 } })
    await cache.set('a', 1)
    const first = cache.set('big1', 'x'.repeat(600))
    await assert.rejects(cache.set('big2', 'x'.repeat(600)), (e: unknown) => e instanceof BacklogFullError && e.waiting === 1)
    await clock.advance(20)
    await gated.open()
    await first
    await cache.close()
  })

  it('backlog.maxWaiting defaults to 100_000 and must be a number', async () => {
    const { cache } = await openTestCache(new MemoryStore())
    assert.equal((cache as unknown as { options: { backlog: { maxWaiting: number } } }).options.backlog.maxWaiting, 100_000)
    await cache.close()
    await assert.rejects(openTestCache(new MemoryStore(), { backlog: { maxWaiting: -1 } }), /backlog\.maxWaiting must be a number >= 0/)
  })

  it("'store' falls back to write-through: the write resolves once committed", async () => {
    const store = new RecordingStore()
    const { cache } = await openTestCache(store, { backlog: { maxEntries: 2, whenFull: 'store' }, flush: { batchSize: 100, intervalMs: 60_000 } })
    await cache.set('a', 1)
    await cache.set('b', 1)
    assert.equal(store.batches.length, 0)
    await cache.set('c', 1)
    assert.equal(store.snapshot().get('c'), 1, 'c is in the store when its promise resolves')
    await cache.close()
  })
})

describe('durability store', () => {
  it('resolves after the store commits and does not flush the key a second time', async () => {
    const store = new RecordingStore()
    const { cache } = await openTestCache(store, { flush: { intervalMs: 60_000 } })
    await cache.set('k', 1, { durability: 'store' })
    assert.equal(store.snapshot().get('k'), 1)
    await cache.flush()
    assert.equal(store.batches.flat().filter((o) => o.key === 'k').length, 1)
    await cache.close()
  })
})

describe('memory bound', () => {
  it('evicts only clean entries, least recently used first, and never a dirty one', async () => {
    const gated = new GatedStore(new MemoryStore())
    const { cache, clock } = await openTestCache(gated, { memory: { maxEntries: 3 }, flush: { intervalMs: 10 } })
    await gated.open()
    for (const k of ['a', 'b', 'c']) await cache.set(k, k)
    await cache.flush()
    await cache.get('a')
    const gated2 = gated
    ;(gated2 as unknown as { gating: boolean }).gating = true
    for (const k of ['d', 'e', 'f', 'g']) await cache.set(k, k)
    await clock.advance(20)
    const s = cache.stats()
    assert.ok(s.memory.entries >= 4, 'four dirty entries are all kept, above the bound')
    for (const k of ['d', 'e', 'f', 'g']) assert.equal(await cache.get(k), k, `dirty ${k} must not be evicted`)
    assert.equal(s.memory.evictions, 3, 'the three clean entries made room')
    await gated.open()
    await cache.close()
  })

  it('counts the bytes of keys and values as they are rewritten, deleted and flushed', async () => {
    const { cache } = await openTestCache(new MemoryStore(), { flush: { intervalMs: 60_000, maxDelayMs: 60_000 } })
    const bytes = (): [number, number] => [cache.stats().memory.bytes, cache.stats().backlog.bytes]
    await cache.set('key', 'a') // 3 + 3 (the JSON text '"a"')
    await cache.set('other', [1, 2]) // 5 + 5
    assert.deepEqual(bytes(), [16, 16])
    await cache.set('key', 'a longer value') // 3 + 16
    assert.deepEqual(bytes(), [29, 29])
    await cache.set('key', 7) // 3 + 1
    assert.deepEqual(bytes(), [14, 14])
    await cache.delete('other') // a tombstone: its key only
    assert.deepEqual(bytes(), [9, 9])
    await cache.flush() // the tombstone leaves; nothing waits
    assert.deepEqual(bytes(), [4, 0])
    await cache.set('key', 'ab') // 3 + 4, dirty again
    assert.deepEqual(bytes(), [7, 7])
    await cache.close()
  })
})

describe('read-through', () => {
  it('shares one store load between concurrent misses on a key', async () => {
    const store = new MemoryStore()
    await store.writeBatch([{ kind: 'set', key: 'k', version: 1, encoded: '"v"', value: 'v' }])
    let loads = 0
    const inner = store.load.bind(store)
    store.load = async (keys) => {
      loads++
      return inner(keys)
    }
    const { cache } = await openTestCache(store)
    const values = await Promise.all([cache.get('k'), cache.get('k'), cache.get('k')])
    assert.deepEqual(values, ['v', 'v', 'v'])
    assert.equal(loads, 1)
    assert.equal(await cache.get('k'), 'v')
    assert.equal(loads, 1, 'the loaded value is cached')
    const many = await cache.getMany(['k', 'missing1', 'missing2'])
    assert.deepEqual(many, ['v', undefined, undefined])
    assert.equal(loads, 2, 'getMany loads all its misses in one call')
    await cache.close()
  })

  it('a write during a load wins over the loaded value', async () => {
    const store = new MemoryStore()
    await store.writeBatch([{ kind: 'set', key: 'k', version: 1, encoded: '"stored"', value: 'stored' }])
    let release!: () => void
    const inner = store.load.bind(store)
    store.load = async (keys) => {
      await new Promise<void>((r) => (release = r))
      return inner(keys)
    }
    const { cache } = await openTestCache(store)
    const reading = cache.get('k')
    await settle()
    await cache.set('k', 'mine')
    release()
    assert.equal(await reading, 'mine')
    assert.equal(await cache.get('k'), 'mine')
    await cache.close()
  })
})

describe('close', () => {
  it('drains the backlog, is idempotent, and refuses later writes', async () => {
    const store = new MemoryStore()
    const { cache } = await openTestCache(store, { flush: { intervalMs: 60_000 } })
    for (let i = 0; i < 100; i++) await cache.set(`k${i}`, i)
    const [a, b] = [cache.close(), cache.close()]
    assert.equal(a, b)
    const report = await a
    assert.equal(report.drained, true)
    assert.equal(store.snapshot().size, 100)
    await assert.rejects(cache.set('x', 1), { code: 'E_CLOSED' })
  })

  it('gives up after closeTimeoutMs and reports what it could not flush', async () => {
    const gated = new GatedStore(new MemoryStore())
    const { cache, clock } = await openTestCache(gated, { closeTimeoutMs: 1000 })
    for (let i = 0; i < 5; i++) await cache.set(`k${i}`, i)
    const closing = cache.close()
    await clock.advance(1001)
    const report = await closing
    assert.equal(report.drained, false)
    assert.equal(report.unflushed, 5)
    assert.deepEqual([...report.unflushedKeys].sort(), ['k0', 'k1', 'k2', 'k3', 'k4'])
    assert.equal(report.safeInLog, false, 'no dir, so nothing is in a log')
  })
})

/** A store holding k = 'old' whose loads, from now until `release()`, read it and then wait. */
async function heldOldValue(): Promise<{ store: MemoryStore; release: () => void }> {
  const store = new MemoryStore()
  await store.writeBatch([{ kind: 'set', key: 'k', version: 1, encoded: '"old"', value: 'old' }])
  const inner = store.load.bind(store)
  let letGo!: () => void
  let hold: Promise<void> | undefined = new Promise<void>((r) => (letGo = r))
  store.load = async (keys) => {
    const result = await inner(keys)
    if (hold !== undefined) await hold
    return result
  }
  return {
    store,
    release: () => {
      hold = undefined
      letGo()
    },
  }
}

describe('read-through racing a write', () => {
  it('never caches a value loaded before a delete that was flushed while the load was out', async () => {
    const { store, release } = await heldOldValue()
    const { cache } = await openTestCache(store)
    const reading = cache.get('k')
    await settle()
    await cache.delete('k')
    await cache.flush() // the tombstone lands and the entry leaves memory
    release()
    assert.equal(await reading, undefined, 'the read that raced the delete does not return the old value')
    assert.equal(await cache.get('k'), undefined, 'and the old value was not cached')
    await cache.close()
  })

  it('nor does any of several misses that shared that load', async () => {
    const { store, release } = await heldOldValue()
    const { cache } = await openTestCache(store)
    const reads = [cache.get('k'), cache.get('k'), cache.getMany(['k', 'other'])]
    await settle()
    await cache.delete('k')
    await cache.flush()
    release()
    const [a, b, many] = await Promise.all(reads)
    assert.deepEqual([a, b, many], [undefined, undefined, [undefined, undefined]], 'no read that shared the load returns the old value')
    assert.equal(await cache.get('k'), undefined, 'and none cached it')
    await cache.close()
  })
})
