// The read helpers cache users expect: has (reads through), peek (cache only, recency untouched),
// deleteMany (validates every key first), getOrSet / wrap (single-flight loader on a miss).
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { InvalidKeyError, InvalidOptionError, InvalidValueError, MemoryStore, type WriteBehindCache } from '../../src/index.js'
import { settle } from '../../src/testing/fake-clock.js'
import { GatedStore } from '../helpers/faulty-stores.js'
import { HeldLoadStore } from '../helpers/held-loads.js'
import { openTestCache } from '../helpers/open.js'

function assertIdle(cache: WriteBehindCache<never> | WriteBehindCache<number> | WriteBehindCache<unknown>): void {
  assert.equal(cache['keyed'].busyKeys, 0, 'no flight is left')
  assert.equal(cache['watch'].size, 0, 'no watch is left')
}

/** A loader that counts its calls and answers when the test opens it. */
function heldLoader<T>(value: T): { load: (key: string) => Promise<T>; calls: string[]; open: () => void } {
  const calls: string[] = []
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  return {
    calls,
    open,
    load: async (key) => {
      calls.push(key)
      await opened
      return value
    },
  }
}

describe('has', () => {
  it('is true for a cached value and for one only the store holds (reading it through once), false for an absent key', async () => {
    const store = new HeldLoadStore()
    await store.seed('stored', 1)
    const { cache } = await openTestCache<number>(store)
    await cache.set('cached', 2)
    assert.equal(await cache.has('cached'), true)
    assert.equal(store.loadCalls, 0, 'a cached key needs no load')
    store.holding = true
    const answers = Promise.all([cache.has('stored'), cache.has('stored'), cache.get('stored')])
    await settle()
    store.releaseLoads()
    assert.deepEqual(await answers, [true, true, 1])
    assert.equal(store.loadCalls, 1, 'concurrent has and get share one load')
    assert.equal(cache.peek('stored'), 1, 'what has read through is cached')
    assert.equal(await cache.has('absent'), false)
    await cache.close()
  })

  it('is false for a key deleted in the cache whose tombstone is not yet flushed, though the store still holds it', async () => {
    const store = new HeldLoadStore()
    await store.seed('k', 1)
    const { cache } = await openTestCache<number>(store, { flush: { intervalMs: 60_000 } })
    await cache.delete('k')
    assert.equal(store.snapshot().get('k'), 1)
    assert.equal(await cache.has('k'), false)
    assert.equal(store.loadCalls, 0)
    await cache.close()
  })
})

describe('peek', () => {
  it('returns the cached value only: no read-through', async () => {
    const store = new HeldLoadStore()
    await store.seed('stored', 1)
    const { cache } = await openTestCache<number>(store, { flush: { intervalMs: 60_000 } })
    await cache.set('k', 2)
    assert.equal(cache.peek('k'), 2)
    assert.equal(cache.peek('stored'), undefined)
    assert.equal(store.loadCalls, 0)
    await cache.delete('k')
    assert.equal(cache.peek('k'), undefined, 'a deleted key')
    assert.throws(() => cache.peek(''), InvalidKeyError)
    await cache.close()
  })

  it('leaves recency alone: a peeked entry is still the first evicted (a get would have saved it)', async () => {
    for (const read of ['peek', 'get'] as const) {
      const store = new MemoryStore()
      const { cache } = await openTestCache<string>(store, { memory: { maxEntries: 2 } })
      await cache.set('a', 'a')
      await cache.set('b', 'b')
      await cache.flush()
      if (read === 'peek') cache.peek('a')
      else await cache.get('a')
      await cache.set('c', 'c')
      await cache.flush()
      assert.deepEqual([cache.peek('a'), cache.peek('b')], read === 'peek' ? [undefined, 'b'] : ['a', undefined], read)
      await cache.close()
    }
  })
})

describe('deleteMany', () => {
  it('deletes every key, and the tombstones reach the store', async () => {
    const store = new MemoryStore()
    const { cache } = await openTestCache<number>(store)
    await cache.setMany([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ])
    await cache.flush()
    await cache.deleteMany(new Set(['a', 'c']))
    assert.deepEqual([await cache.get('a'), await cache.get('b'), await cache.get('c')], [undefined, 2, undefined])
    await cache.flush()
    assert.deepEqual(store.snapshot(), new Map([['b', 2]]))
    await cache.close()
  })

  it('validates every key and the options first: bad input deletes nothing', async () => {
    const { cache } = await openTestCache<number>(new MemoryStore())
    await cache.setMany([
      ['a', 1],
      ['b', 2],
    ])
    const writes = cache.stats().writes
    await assert.rejects(cache.deleteMany(['a', '', 'b']), InvalidKeyError)
    await assert.rejects(cache.deleteMany(['a', 7 as unknown as string]), InvalidKeyError)
    await assert.rejects(cache.deleteMany('ab'), InvalidOptionError, 'a string is not a list of keys')
    await assert.rejects(cache.deleteMany(['a'], { durability: 'disk' }), InvalidOptionError)
    assert.equal(cache.stats().writes, writes)
    assert.deepEqual([await cache.get('a'), await cache.get('b')], [1, 2])
    await cache.close()
  })

  it("at durability 'store' resolves once the store committed every delete", async () => {
    const gated = new GatedStore(new MemoryStore())
    const { cache } = await openTestCache<number>(gated, { flush: { intervalMs: 60_000 } })
    await gated.open()
    await cache.setMany(
      [
        ['a', 1],
        ['b', 2],
      ],
      { durability: 'store' },
    )
    ;(gated as unknown as { gating: boolean }).gating = true
    let done = false
    const deleting = cache.deleteMany(['a', 'b'], { durability: 'store' }).then(() => (done = true))
    await gated.nextBatch()
    await settle()
    assert.equal(done, false)
    await gated.open()
    await deleting
    assert.deepEqual((gated.inner as MemoryStore).snapshot(), new Map())
    await cache.close()
  })
})

describe('getOrSet and wrap', () => {
  it('a hit (cached, or only in the store) calls no loader', async () => {
    const store = new HeldLoadStore()
    await store.seed('stored', 1)
    const { cache } = await openTestCache<number>(store)
    await cache.set('cached', 2)
    const loader = heldLoader(99)
    assert.equal(await cache.getOrSet('cached', loader.load), 2)
    assert.equal(await cache.getOrSet('stored', loader.load), 1)
    assert.deepEqual(loader.calls, [])
    assertIdle(cache)
    await cache.close()
  })

  it('a miss calls the loader once for all concurrent callers (getOrSet and wrap alike) and sets its result', async () => {
    const store = new HeldLoadStore()
    const { cache } = await openTestCache<{ score: number }>(store)
    const loader = heldLoader({ score: 7 })
    const callers = [...Array.from({ length: 9 }, () => cache.getOrSet('player:42', loader.load)), cache.wrap('player:42', loader.load)]
    await settle()
    loader.open()
    assert.deepEqual(
      await Promise.all(callers),
      Array.from({ length: 10 }, () => ({ score: 7 })),
    )
    assert.deepEqual(loader.calls, ['player:42'])
    assert.equal(store.loadCalls, 1, 'one read-through for all of them')
    assert.deepEqual(await cache.get('player:42'), { score: 7 })
    await cache.flush()
    assert.deepEqual(store.snapshot().get('player:42'), { score: 7 })
    assert.deepEqual(await cache.getOrSet('player:42', loader.load), { score: 7 })
    assert.equal(loader.calls.length, 1, 'now a hit')
    assertIdle(cache)
    await cache.close()
  })

  it('a key deleted in the cache (tombstone not yet flushed) is a miss, though the store still holds it', async () => {
    const store = new HeldLoadStore()
    await store.seed('k', 1)
    const { cache } = await openTestCache<number>(store, { flush: { intervalMs: 60_000 } })
    await cache.delete('k')
    assert.equal(await cache.getOrSet('k', () => 2), 2)
    assert.equal(await cache.get('k'), 2)
    await cache.close()
  })

  it('a loader that throws rejects every waiter and caches nothing; the next call loads again', async () => {
    const { cache } = await openTestCache<number>(new MemoryStore())
    const boom = new Error('origin down')
    let calls = 0
    const failing = async (): Promise<number> => {
      calls++
      await settle(1)
      throw boom
    }
    const results = await Promise.allSettled([cache.getOrSet('k', failing), cache.wrap('k', failing), cache.getOrSet('k', failing)])
    assert.deepEqual(
      results.map((r) => r.status === 'rejected' && r.reason === boom),
      [true, true, true],
    )
    assert.equal(calls, 1)
    assert.equal(cache.peek('k'), undefined)
    assert.equal(cache.stats().writes, 0)
    assert.equal(await cache.getOrSet('k', () => 5), 5)
    assertIdle(cache)
    await cache.close()
  })

  it('undefined from the loader caches nothing, and a value the codec refuses rejects and caches nothing', async () => {
    const { cache } = await openTestCache<unknown>(new MemoryStore())
    assert.equal(await cache.getOrSet('k', () => undefined), undefined)
    await assert.rejects(
      cache.getOrSet('k', () => new Map()),
      InvalidValueError,
    )
    assert.equal(cache.stats().writes, 0)
    assert.equal(await cache.has('k'), false)
    assertIdle(cache)
    await cache.close()
  })

  it('a set that lands while the loader runs wins: the loaded value is not written', async () => {
    const store = new MemoryStore()
    const { cache } = await openTestCache<number>(store)
    const loader = heldLoader(1)
    const loading = cache.getOrSet('k', loader.load)
    await settle()
    await cache.set('k', 2)
    loader.open()
    assert.equal(await loading, 2)
    assert.equal(await cache.get('k'), 2)
    await cache.flush()
    assert.equal(store.snapshot().get('k'), 2)
    assert.equal(store.counters.ops, 1, 'only the set was written')
    await cache.close()
  })

  it('a delete that lands while the loader runs wins too: the loaded value is returned, not cached', async () => {
    const { cache } = await openTestCache<number>(new MemoryStore())
    await cache.set('k', 0)
    await cache.delete('k')
    const loader = heldLoader(1)
    const loading = cache.getOrSet('k', loader.load)
    await settle()
    await cache.delete('k')
    loader.open()
    assert.equal(await loading, 1)
    assert.equal(await cache.get('k'), undefined)
    await cache.close()
  })

  it('a set and delete that reach the store while the loader runs leave the key deleted: the loaded value is not cached', async () => {
    const store = new MemoryStore()
    const { cache } = await openTestCache<number>(store)
    const loader = heldLoader(1)
    const loading = cache.getOrSet('k', loader.load)
    await settle()
    await cache.set('k', 2, { durability: 'store' })
    await cache.delete('k', { durability: 'store' })
    loader.open()
    assert.equal(await loading, 1)
    assert.equal(cache.peek('k'), undefined)
    await cache.flush()
    assert.equal(store.snapshot().has('k'), false)
    await cache.close()
  })

  it("writes with the given options: at durability 'store' it resolves once the store committed", async () => {
    const gated = new GatedStore(new MemoryStore())
    const { cache } = await openTestCache<number>(gated, { flush: { intervalMs: 60_000 } })
    let done = false
    const loading = cache.getOrSet('k', () => 3, { durability: 'store' }).then((v) => ((done = true), v))
    const batch = await gated.nextBatch()
    assert.deepEqual(
      batch.map((op) => op.key),
      ['k'],
    )
    await settle()
    assert.equal(done, false)
    await gated.release()
    assert.equal(await loading, 3)
    await gated.open()
    await cache.close()
  })

  it('refuses a bad key, a non-function loader or bad options at the door', async () => {
    const { cache } = await openTestCache<number>(new MemoryStore())
    await assert.rejects(
      cache.getOrSet('', () => 1),
      InvalidKeyError,
    )
    await assert.rejects(cache.wrap('k', 5 as never), InvalidOptionError)
    await assert.rejects(
      cache.wrap('k', () => 1, 60_000 as never),
      InvalidOptionError,
      "cache-manager's ttl argument is refused, not ignored",
    )
    await cache.close()
  })
})
