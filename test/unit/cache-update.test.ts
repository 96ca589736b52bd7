// update(key, fn): an atomic read-modify-write per key, read-through included, coalesced like any
// set; never loses a concurrent update, and never overwrites a set or delete that landed while fn
// (or the read) was awaited.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { CacheClosedError, InvalidKeyError, InvalidOptionError, InvalidValueError, MemoryStore, UpdateConflictError, type WriteBehindCache } from '../../src/index.js'
import { settle } from '../../src/testing/fake-clock.js'
import { GatedStore } from '../helpers/faulty-stores.js'
import { HeldLoadStore } from '../helpers/held-loads.js'
import { openTestCache } from '../helpers/open.js'

/** Nothing left behind once every update settled: no turn, no flight, no watch. */
function assertIdle(cache: WriteBehindCache<never> | WriteBehindCache<number> | WriteBehindCache<unknown>): void {
  assert.equal(cache['keyed'].busyKeys, 0, 'no per-key turn or flight is left')
  assert.equal(cache['watch'].size, 0, 'no watch is left')
}

/** A promise the test resolves by hand. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((resolve) => (open = resolve))
  return { promise, open }
}

const increment = (n: number | undefined): number => (n ?? 0) + 1

describe('update: concurrent updates of one key', () => {
  it('100 concurrent increments end at 100, coalesced into one store write (get-then-set ends lower)', async () => {
    const store = new MemoryStore()
    const { cache } = await openTestCache<number>(store)
    const results = await Promise.all(Array.from({ length: 100 }, () => cache.update('hits', increment)))
    assert.equal(await cache.get('hits'), 100)
    assert.deepEqual(
      [...results].sort((a, b) => (a ?? 0) - (b ?? 0)),
      Array.from({ length: 100 }, (_, i) => i + 1),
      'each resolves with the value it wrote',
    )
    await cache.flush()
    assert.equal(store.snapshot().get('hits'), 100)
    assert.equal(store.counters.ops, 1, 'the 100 updates reached the store as one op')

    // The race update() exists for: the same increments as get then set lose updates.
    await Promise.all(Array.from({ length: 100 }, async () => cache.set('racy', increment(await cache.get('racy')))))
    assert.ok(((await cache.get('racy')) ?? 0) < 100)
    assertIdle(cache)
    await cache.close()
  })

  it('reads through a key cold in the store: 100 concurrent increments of a stored 5 end at 105, with one load', async () => {
    const store = new HeldLoadStore()
    await store.seed('hits', 5)
    const { cache } = await openTestCache<number>(store)
    store.holding = true
    const updates = Array.from({ length: 100 }, () => cache.update('hits', increment))
    await settle()
    assert.equal(store.heldLoads, 1, 'the first update is reading through; the others wait for their turn')
    store.releaseLoads()
    await Promise.all(updates)
    assert.equal(await cache.get('hits'), 105)
    assert.equal(store.loadCalls, 1)
    await cache.flush()
    assert.equal(store.snapshot().get('hits'), 105)
    assertIdle(cache)
    await cache.close()
  })

  it('updates of different keys do not wait for each other', async () => {
    const { cache } = await openTestCache<number>(new MemoryStore())
    const held = gate()
    const slow = cache.update('a', async (n) => {
      await held.promise
      return increment(n)
    })
    assert.equal(await cache.update('b', increment), 1, 'b is not held behind a')
    held.open()
    assert.equal(await slow, 1)
    assertIdle(cache)
    await cache.close()
  })
})

describe('update: against plain writes that land while fn is awaited', () => {
  it('a set during an async fn makes fn run again on the set value', async () => {
    const { cache } = await openTestCache<number>(new MemoryStore())
    await cache.set('k', 1)
    const seen: Array<number | undefined> = []
    const first = gate()
    const update = cache.update('k', async (n) => {
      seen.push(n)
      if (seen.length === 1) await first.promise
      return increment(n)
    })
    await settle()
    await cache.set('k', 50)
    first.open()
    assert.equal(await update, 51)
    assert.deepEqual(seen, [1, 50])
    assert.equal(await cache.get('k'), 51)
    await cache.close()
  })

  it('a delete during fn makes fn run again on undefined', async () => {
    const { cache } = await openTestCache<number>(new MemoryStore())
    await cache.set('k', 7)
    const seen: Array<number | undefined> = []
    const update = cache.update('k', async (n) => {
      seen.push(n)
      if (seen.length === 1) await cache.delete('k')
      return increment(n)
    })
    assert.equal(await update, 1)
    assert.deepEqual(seen, [7, undefined])
    await cache.close()
  })

  it('a set while the read-through is out makes the update start over from the set value', async () => {
    const store = new HeldLoadStore()
    await store.seed('k', 5)
    const { cache } = await openTestCache<number>(store)
    store.holding = true
    const seen: Array<number | undefined> = []
    const update = cache.update('k', (n) => {
      seen.push(n)
      return increment(n)
    })
    await settle()
    assert.equal(store.heldLoads, 1)
    await cache.set('k', 40)
    store.releaseLoads()
    assert.equal(await update, 41)
    assert.deepEqual(seen, [40], 'fn never saw the stored 5, which the set replaced')
    await cache.close()
  })

  it('a set made in the same tick as the update, before its read resolved, is not overwritten', async () => {
    const { cache } = await openTestCache<number>(new MemoryStore())
    await cache.set('k', 1)
    const update = cache.update('k', increment)
    const set = cache.set('k', 50)
    assert.equal(await update, 51)
    await set
    assert.equal(await cache.get('k'), 51)
    await cache.close()
  })

  it('a delete that reaches the store (and leaves the cache) while fn is awaited is not overwritten', async () => {
    const store = new MemoryStore()
    const { cache } = await openTestCache<number>(store)
    await cache.set('k', 7, { durability: 'store' })
    const seen: Array<number | undefined> = []
    const update = cache.update('k', async (n) => {
      seen.push(n)
      if (seen.length === 1) await cache.delete('k', { durability: 'store' })
      return increment(n)
    })
    assert.equal(await update, 1)
    assert.deepEqual(seen, [7, undefined])
    await cache.close()
  })

  it('a write made around the facade (straight into the tier, as a merge path might) is caught by the version check', async () => {
    const { cache } = await openTestCache<number>(new MemoryStore())
    await cache.set('k', 1)
    const seen: Array<number | undefined> = []
    const update = cache.update('k', async (n) => {
      seen.push(n)
      if (seen.length === 1) cache['tier'].write('k', '20', 'memory')
      return increment(n)
    })
    assert.equal(await update, 21)
    assert.deepEqual(seen, [1, 20])
    await cache.close()
  })

  it('gives up after 10 attempts with UpdateConflictError, writing nothing', async () => {
    const { cache } = await openTestCache<number>(new MemoryStore())
    let calls = 0
    const update = cache.update('k', async (n) => {
      calls++
      await cache.set('k', 1000 + calls)
      return increment(n)
    })
    await assert.rejects(update, (error: unknown) => error instanceof UpdateConflictError && error.code === 'E_UPDATE_CONFLICT' && error.key === 'k' && error.attempts === 10)
    assert.equal(calls, 10)
    assert.equal(await cache.get('k'), 1010, 'the last plain set stands')
    assertIdle(cache)
    await cache.close()
  })
})

describe('update: what fn returns', () => {
  it('undefined from fn deletes the key, and the delete is flushed', async () => {
    const store = new MemoryStore()
    const { cache } = await openTestCache<number>(store)
    await cache.set('k', 3)
    await cache.flush()
    assert.equal(await cache.update('k', () => undefined), undefined)
    assert.equal(await cache.get('k'), undefined)
    await cache.flush()
    assert.equal(store.snapshot().has('k'), false)
    await cache.close()
  })

  it('fn throwing (or rejecting) rejects the update and writes nothing; the next update of the key runs', async () => {
    const store = new MemoryStore()
    const { cache } = await openTestCache<number>(store)
    await cache.set('k', 1)
    const boom = new Error('boom')
    const writesBefore = cache.stats().writes
    await assert.rejects(
      cache.update('k', () => {
        throw boom
      }),
      (error) => error === boom,
    )
    await assert.rejects(
      cache.update('k', async () => {
        throw boom
      }),
      (error) => error === boom,
    )
    assert.equal(cache.stats().writes, writesBefore, 'nothing was written')
    assert.equal(await cache.get('k'), 1)
    assert.equal(await cache.update('k', increment), 2)
    assertIdle(cache)
    await cache.close()
  })

  it('a value the codec refuses rejects with InvalidValueError and writes nothing', async () => {
    const { cache } = await openTestCache<unknown>(new MemoryStore())
    await cache.set('k', 1)
    await assert.rejects(
      cache.update('k', () => ({ when: new Date(0) })),
      InvalidValueError,
    )
    assert.equal(await cache.get('k'), 1)
    assertIdle(cache)
    await cache.close()
  })

  it('refuses a bad key, a non-function or bad options at the door, before fn runs', async () => {
    const { cache } = await openTestCache<number>(new MemoryStore())
    let calls = 0
    const fn = (n: number | undefined): number => (calls++, increment(n))
    await assert.rejects(cache.update('', fn), InvalidKeyError)
    await assert.rejects(cache.update('k', 'nope' as never), InvalidOptionError)
    await assert.rejects(cache.update('k', fn, { durability: 'stor' as never }), InvalidOptionError)
    await assert.rejects(cache.update('k', fn, { durability: 'log' }), InvalidOptionError, 'no dir, no log')
    assert.equal(calls, 0)
    await cache.close()
  })
})

describe('update: a full backlog', () => {
  it("with whenFull 'wait', an update whose write waits for room holds the key's next update until it is applied", async () => {
    const gated = new GatedStore(new MemoryStore())
    const { cache, clock } = await openTestCache<number>(gated, { backlog: { maxEntries: 2, whenFull: 'wait' }, flush: { batchSize: 2, intervalMs: 10 } })
    await cache.set('a', 1)
    await cache.set('b', 1)
    const updates = Array.from({ length: 10 }, () => cache.update('k', increment))
    await settle()
    assert.equal(cache.stats().backlog.waitingWrites, 1, "the first update's write waits for room; the others wait for it")
    await clock.advance(20)
    await gated.open()
    assert.deepEqual(
      await Promise.all(updates),
      Array.from({ length: 10 }, (_, i) => i + 1),
    )
    await cache.flush()
    assert.equal((gated.inner as MemoryStore).snapshot().get('k'), 10)
    assertIdle(cache)
    await cache.close()
  })
})

describe('update: close', () => {
  it('an update whose fn is awaited when the cache closes, and those waiting for their turn, reject with CacheClosedError and write nothing', async () => {
    const store = new MemoryStore()
    const { cache } = await openTestCache<number>(store)
    await cache.set('k', 1)
    const held = gate()
    const first = cache.update('k', async (n) => {
      await held.promise
      return increment(n)
    })
    const next = cache.update('k', increment)
    await settle()
    const rejections = [assert.rejects(first, CacheClosedError), assert.rejects(next, CacheClosedError)] // they reject as close() starts
    const report = await cache.close()
    assert.equal(report.drained, true)
    held.open()
    await Promise.all(rejections)
    await settle() // rejected at close, they end their turns as their functions return
    assert.equal(store.snapshot().get('k'), 1)
    assertIdle(cache)
  })
})

describe('update: durability', () => {
  it("at durability 'store' resolves only once the store committed the new value", async () => {
    const gated = new GatedStore(new MemoryStore())
    const { cache } = await openTestCache<number>(gated, { flush: { intervalMs: 60_000 } })
    let resolved = false
    const update = cache.update('k', increment, { durability: 'store' }).then((value) => ((resolved = true), value))
    const batch = await gated.nextBatch()
    assert.deepEqual(
      batch.map((op) => [op.key, op.kind === 'set' ? op.value : null]),
      [['k', 1]],
    )
    await settle()
    assert.equal(resolved, false, 'not acknowledged before the store commits')
    await gated.release()
    assert.equal(await update, 1)
    assert.equal((gated.inner as MemoryStore).snapshot().get('k'), 1)
    await gated.open()
    await cache.close()
  })

  it("100 concurrent increments at 'store' all land: the store holds 100 when they resolved", async () => {
    const store = new MemoryStore()
    const { cache } = await openTestCache<number>(store)
    await Promise.all(Array.from({ length: 100 }, () => cache.update('k', increment, { durability: 'store' })))
    assert.equal(store.snapshot().get('k'), 100)
    assert.ok(store.counters.batches < 10, `the updates took turns in memory, not per store round trip (${store.counters.batches} batches)`)
    assertIdle(cache)
    await cache.close()
  })
})

describe('update and getOrSet at close()', () => {
  it('a function or loader that never settles does not hold the caller past close(): it rejects with CacheClosedError', async () => {
    const { cache } = await openTestCache(new MemoryStore())
    await cache.set('done', 1)
    const never = new Promise<number>(() => {})
    const outcomes = [
      cache.update('k', () => never),
      cache.update('k', (n) => Number(n ?? 0) + 1), // waits for its turn behind the one that never ends
      cache.getOrSet('g', () => never),
      cache.update('done', (n) => Number(n ?? 0) + 1, { durability: 'store' }), // applied before close: settles with its ack
    ].map((p) =>
      p.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
    )
    await settle()
    const report = await cache.close()
    const [first, second, loader, applied] = await Promise.all(outcomes)
    for (const [name, outcome] of [
      ['update', first],
      ['queued update', second],
      ['getOrSet', loader],
    ] as const) {
      assert.ok('error' in outcome! && outcome.error instanceof CacheClosedError, `${name} rejects with CacheClosedError`)
    }
    assert.deepEqual(applied, { value: 2 }, 'the update applied before close resolves with its value once the store has it')
    assert.equal(report.unflushed, 0)
  })
})
