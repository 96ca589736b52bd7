/**
 * Expiry (`ttlMs`, cache-wide and per write) and stale-while-revalidate, on a FakeClock. The store's
 * rows are changed behind the cache's back (`store.writeBatch` with a newer version, as another
 * writer would), so a test sees whether a read was served from memory or read through. The
 * invariant under test: only clean entries expire; a dirty, in-flight or dead-lettered entry is
 * served however long past its ttl.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { MemoryStore, type StoreOp, type WriteBehindCache } from '../../src/index.js'
import { FakeClock } from '../../src/testing/fake-clock.js'
import { GatedStore, OutageStore, PoisonStore } from '../helpers/faulty-stores.js'
import { openTestCache } from '../helpers/open.js'

/** A MemoryStore that counts `load` calls and can fail them. */
class CountingStore extends MemoryStore {
  loads = 0
  failLoads = false
  override async load(keys: readonly string[]) {
    this.loads++
    if (this.failLoads) throw new Error('load failed (injected)')
    return super.load(keys)
  }
}

/** Writes `value` under `key` in `store` as another writer would: a version above everything the cache issued. */
async function writeBehindTheCache(store: MemoryStore, cache: WriteBehindCache, key: string, value: unknown): Promise<void> {
  const version = Math.max(cache.stats().lastVersion, await store.highestVersion()) + 1
  await store.writeBatch([{ kind: 'set', key, version, value, encoded: JSON.stringify(value) }])
}

describe('ttlMs: clean entries expire and are read through again', () => {
  it("serves the cached value until ttlMs after the flush, then the store's newer row (get and getMany)", async () => {
    const store = new CountingStore()
    const { cache, clock } = await openTestCache(store, { ttlMs: 1000 })
    await cache.set('a', 'mine')
    await cache.set('b', 'mine')
    await cache.flush()
    await writeBehindTheCache(store, cache, 'a', 'theirs')
    await writeBehindTheCache(store, cache, 'b', 'theirs')
    await clock.advance(999)
    assert.equal(await cache.get('a'), 'mine', 'not expired yet: served from memory')
    assert.equal(store.loads, 0)
    await clock.advance(1)
    assert.equal(await cache.get('a'), 'theirs', 'expired: read through')
    assert.deepEqual(await cache.getMany(['a', 'b']), ['theirs', 'theirs'])
    assert.equal(store.loads, 2)
    assert.equal(cache.stats().memory.expired, 2)
    await cache.close()
  })

  it('gives values loaded by read-through the cache-wide ttl', async () => {
    const store = new CountingStore()
    const { cache, clock } = await openTestCache(store, { ttlMs: 1000 })
    await store.writeBatch([{ kind: 'set', key: 'k', version: 1, value: 'first', encoded: '"first"' }])
    assert.equal(await cache.get('k'), 'first')
    await store.writeBatch([{ kind: 'set', key: 'k', version: 2, value: 'second', encoded: '"second"' }])
    await clock.advance(500)
    assert.equal(await cache.get('k'), 'first', 'cached by the read-through')
    await clock.advance(500)
    assert.equal(await cache.get('k'), 'second')
    assert.equal(store.loads, 2)
    await cache.close()
  })

  it("a write's ttlMs overrides the cache's; 0 never expires", async () => {
    const store = new CountingStore()
    const { cache, clock } = await openTestCache(store, { ttlMs: 10_000 })
    await cache.set('short', 'mine', { ttlMs: 1000 })
    await cache.set('default', 'mine')
    await cache.setMany([['never', 'mine']], { ttlMs: 0 })
    await cache.flush()
    for (const key of ['short', 'default', 'never']) await writeBehindTheCache(store, cache, key, 'theirs')
    await clock.advance(1000)
    assert.deepEqual(await cache.getMany(['short', 'default', 'never']), ['theirs', 'mine', 'mine'])
    await clock.advance(9000)
    assert.deepEqual(await cache.getMany(['short', 'default', 'never']), ['theirs', 'theirs', 'mine'])
    await clock.advance(3_600_000)
    assert.equal(await cache.get('never'), 'mine')
    await cache.close()
  })

  it('a per-write ttlMs works on a cache without one', async () => {
    const store = new CountingStore()
    const { cache, clock } = await openTestCache(store)
    await cache.set('k', 'mine', { ttlMs: 50 })
    await cache.flush()
    await writeBehindTheCache(store, cache, 'k', 'theirs')
    await clock.advance(50)
    assert.equal(await cache.get('k'), 'theirs')
    await cache.close()
  })

  it('peek does not serve an expired entry (and reads nothing); has reads it through', async () => {
    const store = new CountingStore()
    const { cache, clock } = await openTestCache(store, { ttlMs: 1000 })
    await cache.set('k', 'mine')
    await cache.flush()
    await writeBehindTheCache(store, cache, 'k', 'theirs')
    await clock.advance(999)
    assert.equal(cache.peek('k'), 'mine')
    await clock.advance(1)
    assert.equal(cache.peek('k'), undefined, 'expired: peek does not serve it')
    assert.equal(store.loads, 0, 'peek never reads through')
    assert.equal(await cache.has('k'), true)
    assert.equal(cache.peek('k'), 'theirs', 'has read it through and cached it')
    await cache.close()
  })

  it('getOrSet passes ttlMs to the value it caches', async () => {
    const store = new CountingStore()
    const { cache, clock } = await openTestCache(store)
    assert.equal(await cache.getOrSet('k', () => 'loaded', { ttlMs: 1000 }), 'loaded')
    await cache.flush()
    await writeBehindTheCache(store, cache, 'k', 'theirs')
    await clock.advance(1000)
    assert.equal(await cache.getOrSet('k', () => 'again'), 'theirs', 'expired: read through, and the store has a value')
    await cache.close()
  })

  it('an increment never builds on an expired value: it reads the store first', async () => {
    const store = new CountingStore()
    const { cache, clock } = await openTestCache<number>(store, { ttlMs: 1000 })
    assert.equal(await cache.increment('hits', 5), 5)
    await cache.flush()
    await writeBehindTheCache(store, cache, 'hits', 100)
    await clock.advance(999)
    assert.equal(await cache.increment('hits'), 6, 'fresh: from the cached value (the store adds the delta to its own)')
    await cache.flush()
    assert.equal(store.snapshot().get('hits'), 101)
    await clock.advance(1000)
    assert.equal(await cache.increment('hits'), 102, "expired: from the store's value")
    await cache.flush()
    assert.equal(store.snapshot().get('hits'), 102)
    await cache.close()
  })

  it("an increment's ttlMs applies to the counter once flushed", async () => {
    const store = new CountingStore()
    const { cache, clock } = await openTestCache<number>(store)
    await cache.increment('hits', 1, { ttlMs: 1000 })
    await cache.flush()
    await writeBehindTheCache(store, cache, 'hits', 50)
    await clock.advance(1000)
    assert.equal(await cache.get('hits'), 50)
    await cache.close()
  })

  it('checks ttlMs like any option, per write too', async () => {
    const store = new MemoryStore()
    const { cache } = await openTestCache(store)
    await assert.rejects(cache.set('k', 1, { ttlMs: -1 }), (e: unknown) => e instanceof TypeError && /^ttlMs must be a number >= 0, got -1$/.test(e.message))
    await assert.rejects(cache.set('k', 1, { ttl: 5 } as never), (e: unknown) => e instanceof TypeError && /did you mean 'ttlMs'/.test(e.message))
    await assert.rejects(openTestCache(store, { staleWhileRevalidateMs: Number.NaN }), /^TypeError: staleWhileRevalidateMs must be a number >= 0, got NaN$/)
    await cache.close()
  })

  it('drops expired entries nobody reads, a few of the coldest each time an entry turns clean', async () => {
    const store = new CountingStore()
    const { cache, clock } = await openTestCache(store, { ttlMs: 1000 })
    for (let i = 0; i < 4; i++) await cache.set(`old${i}`, i)
    await cache.flush()
    await clock.advance(1000)
    assert.equal(cache.stats().memory.entries, 4)
    await cache.set('new', 1)
    await cache.flush()
    assert.equal(cache.stats().memory.entries, 1, 'the four expired entries went when the new one turned clean')
    assert.equal(cache.stats().memory.expired, 4)
    assert.equal(store.loads, 0)
    await cache.close()
  })
})

describe('ttlMs never expires an entry that is not clean', () => {
  it('serves a dirty entry past its ttl while the store is down, and starts the ttl once it lands', async () => {
    const inner = new MemoryStore()
    const clock = new FakeClock()
    const store = new OutageStore(inner, clock, { from: clock.now(), to: clock.now() + 600_000 })
    const { cache } = await openTestCache(store, { ttlMs: 1000, clock, checkStore: false })
    await cache.set('k', 'mine')
    await clock.advance(300_000)
    assert.ok(store.counters.failedCalls > 0, 'flushes failed during the outage')
    assert.equal(await cache.get('k'), 'mine', 'dirty past its ttl: still served (a read-through would fail)')
    assert.equal(cache.stats().memory.expired, 0)
    await clock.advance(300_000) // the outage ends; the write lands (at the circuit's next probe) and the ttl starts
    let landedAt: number | undefined
    cache.on('flush', () => (landedAt ??= clock.now()))
    for (let i = 0; i < 60_000 && landedAt === undefined; i++) await clock.advance(10)
    assert.ok(landedAt !== undefined, 'the write landed after the outage')
    await writeBehindTheCache(inner, cache, 'k', 'theirs')
    await clock.advance(landedAt + 999 - clock.now())
    assert.equal(await cache.get('k'), 'mine', 'the ttl counts from the flush, not the write')
    await clock.advance(1)
    assert.equal(await cache.get('k'), 'theirs')
    await cache.close()
  })

  it('serves an entry in flight (held at the store) past its ttl', async () => {
    const inner = new CountingStore()
    const gated = new GatedStore(inner)
    const { cache, clock } = await openTestCache(gated, { ttlMs: 1000, flush: { intervalMs: 10 } })
    await cache.set('k', 'mine')
    let batch: readonly StoreOp[] | undefined
    void gated.nextBatch().then((ops) => (batch = ops))
    // Fake time in steps until the batch arrives: on a loaded machine the flush timer can be armed
    // after the first step's settle() (the event loop then drained with `await next` pending, once in CI).
    for (let i = 0; i < 1_000 && batch === undefined; i++) await clock.advance(10)
    assert.ok(batch !== undefined, 'the flusher took a batch')
    assert.deepEqual(
      batch.map((op) => op.key),
      ['k'],
    )
    await writeBehindTheCache(inner, cache, 'k', 'theirs')
    await clock.advance(60_000)
    assert.equal(await cache.get('k'), 'mine', 'in flight: served, not expired')
    assert.equal(inner.loads, 0)
    await gated.open()
    await cache.close()
  })

  it("serves a dead letter's value however long past the ttl", async () => {
    const inner = new CountingStore()
    const store = new PoisonStore(inner, { isPoison: (op: StoreOp) => op.kind === 'set' && op.value === 'poison' })
    const { cache, clock } = await openTestCache(store, { ttlMs: 1000 })
    await cache.set('bad', 'poison')
    await cache.set('good', 'fine')
    const flushing = cache.flush()
    for (let i = 0; i < 100; i++) await clock.advance(50)
    assert.deepEqual(
      (await flushing).deadLettered.map((l) => l.key),
      ['bad'],
    )
    await clock.advance(3_600_000)
    assert.equal(await cache.get('bad'), 'poison', 'pinned: served, where a read-through would find nothing')
    assert.equal(await cache.get('good'), 'fine')
    assert.equal(inner.loads, 1, "only the clean entry 'good' expired and was read through")
    await cache.close()
  })
})

describe('staleWhileRevalidateMs', () => {
  it('serves the stale value at once and reloads it once in the background, then serves the new one', async () => {
    const store = new CountingStore()
    const { cache, clock } = await openTestCache(store, { ttlMs: 1000, staleWhileRevalidateMs: 5000 })
    await cache.set('k', 'mine')
    await cache.flush()
    await writeBehindTheCache(store, cache, 'k', 'theirs')
    await clock.advance(1000)
    const stale = await Promise.all([cache.get('k'), cache.get('k'), cache.getMany(['k'])])
    assert.deepEqual(stale, ['mine', 'mine', ['mine']], 'within the window: the old value, at once')
    await clock.advance(0) // lets the background reload finish
    assert.equal(await cache.get('k'), 'theirs', 'the reload landed')
    assert.equal(store.loads, 1, 'one background load for all the stale reads')
    await clock.advance(999)
    assert.equal(await cache.get('k'), 'theirs')
    assert.equal(store.loads, 1, 'the reloaded value has a fresh ttl')
    await cache.close()
  })

  it('keeps serving the stale value while reloads fail, until the window ends', async () => {
    const store = new CountingStore()
    const { cache, clock } = await openTestCache(store, { ttlMs: 1000, staleWhileRevalidateMs: 5000 })
    await cache.set('k', 'mine')
    await cache.flush()
    store.failLoads = true
    await clock.advance(1000)
    assert.equal(await cache.get('k'), 'mine')
    await clock.advance(4999)
    assert.equal(await cache.get('k'), 'mine', 'the failed reload left the stale value')
    assert.ok(store.loads >= 1, 'a reload was tried')
    await clock.advance(1)
    await assert.rejects(cache.get('k'), /load failed/, 'past the window: a read-through, which fails')
    store.failLoads = false
    assert.equal(await cache.get('k'), 'mine')
    await cache.close()
  })

  it('a write during the reload wins over the reloaded value', async () => {
    const store = new CountingStore()
    const { cache, clock } = await openTestCache(store, { ttlMs: 1000, staleWhileRevalidateMs: 5000 })
    await cache.set('k', 'first')
    await cache.flush()
    await writeBehindTheCache(store, cache, 'k', 'theirs')
    await clock.advance(1000)
    const inner = MemoryStore.prototype.load.bind(store)
    let release!: () => void
    store.load = async (keys) => {
      await new Promise<void>((r) => (release = r))
      return inner(keys)
    }
    assert.equal(await cache.get('k'), 'first')
    await cache.set('k', 'second')
    release()
    await clock.advance(0)
    assert.equal(await cache.get('k'), 'second')
    await cache.close()
  })

  it('drops the entry when the reload finds no row', async () => {
    const store = new CountingStore()
    const { cache, clock } = await openTestCache(store, { ttlMs: 1000, staleWhileRevalidateMs: 5000 })
    await cache.set('k', 'mine')
    await cache.flush()
    await store.writeBatch([{ kind: 'delete', key: 'k', version: cache.stats().lastVersion + 1 }])
    await clock.advance(1000)
    assert.equal(await cache.get('k'), 'mine')
    await clock.advance(0)
    assert.equal(await cache.get('k'), undefined)
    await cache.close()
  })
})
