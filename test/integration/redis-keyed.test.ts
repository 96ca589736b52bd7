/**
 * Read-modify-writes on a Redis tier (`update`, `getOrSet`/`wrap`, `increment`/`max`/`min`) and
 * per-write `ttlMs`, on a server of the test's own (each of `SERVER_BINARIES`) and a MemoryStore:
 * two caches on one name stand for two processes (each has its own client and its own per-key
 * turns, so only Redis's compare-and-swap keeps them apart). No update or increment is lost, a
 * write landing while `fn` or a loader runs wins, and what the embedded tier refuses is refused
 * here too; `peek` and `deadLetters` refuse with a typed error.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Redis } from 'ioredis'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { InvalidOptionError, NotANumberError, UpdateConflictError } from '../../src/errors.js'
import { RedisTier } from '../../src/redis.js'
import { MemoryStore } from '../../src/stores/memory-store.js'
import { SERVER_BINARIES, startOwnRedis, type OwnRedis } from '../helpers/own-redis.js'

let server: OwnRedis
const clients: Redis[] = []
const caches: WriteBehindCache[] = []
let names = 0

/** Two caches on one new name over one store: two instances of an app. */
async function pair(store = new MemoryStore(), ttlMs?: number): Promise<{ a: WriteBehindCache; b: WriteBehindCache; store: MemoryStore; tiers: RedisTier[] }> {
  const name = `k${++names}`
  const tiers: RedisTier[] = []
  const open = async (): Promise<WriteBehindCache> => {
    const client = server.client()
    clients.push(client)
    const tier = new RedisTier({ client, name, shards: 2 })
    tiers.push(tier)
    const cache = await WriteBehindCache.open({ store, tier, flush: { intervalMs: 60_000, maxDelayMs: 60_000 }, ...(ttlMs === undefined ? {} : { ttlMs }) })
    caches.push(cache)
    return cache
  }
  return { a: await open(), b: await open(), store, tiers }
}

async function seed(store: MemoryStore, key: string, value: unknown, version = 5): Promise<void> {
  await store.writeBatch([{ kind: 'set', key, value, encoded: JSON.stringify(value), version }])
}

function suite(): void {
  it('update: reads through the store, writes fn(current), undefined deletes; 2 × 50 racing updates of one key lose none', async () => {
    const { a, b, store } = await pair()
    await seed(store, 'doc', { n: 10 })
    assert.deepEqual(await a.update('doc', (d: unknown) => ({ n: (d as { n: number }).n + 1 })), { n: 11 })
    await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? a : b).update('doc', (d: unknown) => ({ n: (d as { n: number }).n + 1 }))))
    assert.deepEqual(await b.get('doc'), { n: 111 })
    await a.flush()
    assert.deepEqual(store.snapshot().get('doc'), { n: 111 })
    assert.equal(await a.update('doc', () => undefined), undefined)
    assert.equal(await b.get('doc'), undefined, 'undefined deleted it')
    await assert.rejects(
      a.update('doc', () => {
        throw new Error('no')
      }),
      /no/,
    )
    assert.equal(await a.get('doc'), undefined, 'a throwing fn writes nothing')
    await assert.rejects(a.update('doc', 'nope' as never), (e: unknown) => e instanceof InvalidOptionError && e.option === 'fn')
  })

  it('update: a write of another instance landing while fn runs makes fn run again, at most 100 times, then UpdateConflictError and nothing written', async () => {
    const { a, b } = await pair()
    await a.set('k', 0)
    let runs = 0
    const seen: unknown[] = []
    const result = await a.update('k', async (v) => {
      seen.push(v)
      if (++runs < 3) await b.set('k', `b${runs}`)
      return `a after ${String(v)}`
    })
    assert.equal(result, 'a after b2')
    assert.deepEqual(seen, [0, 'b1', 'b2'], 'each run saw the other instance’s write')
    let tries = 0
    await assert.rejects(
      a.update('k', async () => {
        await b.set('k', ++tries)
        return 'never'
      }),
      (e: unknown) => e instanceof UpdateConflictError && e.attempts === 100,
    )
    assert.equal(tries, 100, 'fn ran 100 times')
    assert.equal(await a.get('k'), 100, 'nothing written: the last of the other instance’s writes stands')
  })

  it('getOrSet: one loader call for concurrent callers, a hit skips it, throwing or undefined caches nothing, a write landing meanwhile wins', async () => {
    const { a, b, store } = await pair()
    let calls = 0
    const loader = async (key: string): Promise<string> => {
      calls++
      await new Promise((resolve) => setTimeout(resolve, 20))
      return `loaded ${key}`
    }
    const got = await Promise.all(Array.from({ length: 10 }, () => a.getOrSet('x', loader)))
    assert.deepEqual(new Set(got), new Set(['loaded x']))
    assert.equal(calls, 1)
    assert.equal(await b.wrap('x', loader), 'loaded x', 'a hit: the other instance reads it, no loader')
    assert.equal(calls, 1)
    await seed(store, 'stored', 'from the store')
    assert.equal(await a.getOrSet('stored', loader), 'from the store', 'read through first')
    await assert.rejects(
      a.getOrSet('y', () => {
        throw new Error('loader failed')
      }),
      /loader failed/,
    )
    assert.equal(await a.getOrSet('y', () => undefined), undefined)
    assert.equal(await b.get('y'), undefined, 'nothing cached')
    const raced = await a.getOrSet('z', async () => {
      await b.set('z', 'theirs')
      return 'mine'
    })
    assert.equal(raced, 'theirs')
    assert.equal(await a.get('z'), 'theirs', 'the loaded value did not overwrite it')
  })

  it('increment, max, min: a missing key counts as 0 (or the operand), the store’s number is the base, two instances racing lose none', async () => {
    const { a, b, store } = await pair()
    assert.equal(await a.increment('n'), 1)
    assert.equal(await a.increment('n', -3), -2)
    await seed(store, 'base', 40)
    assert.equal(await b.increment('base', 2), 42, 'the first increment read the store’s value')
    assert.equal(await a.max('m', 7), 7)
    assert.equal(await b.max('m', 3), 7)
    assert.equal(await a.min('m', 5), 5)
    await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a : b).increment('hot', i % 2 === 0 ? 1 : 2)))
    assert.equal(await a.get('hot'), 300)
    await a.set('text', 'abc')
    await assert.rejects(b.increment('text'), (e: unknown) => e instanceof NotANumberError && e.code === 'E_NOT_A_NUMBER')
    assert.equal(await a.get('text'), 'abc', 'nothing written')
    await assert.rejects(a.increment('n', Number.NaN), (e: unknown) => e instanceof InvalidOptionError && e.option === 'by')
    await a.set('big', Number.MAX_VALUE)
    await assert.rejects(a.increment('big', Number.MAX_VALUE), NotANumberError)
    await a.flush()
    assert.equal(store.snapshot().get('hot'), 300, 'the store holds the counter')
    assert.equal(store.snapshot().get('base'), 42)
  })

  it('per-write ttlMs: a clean entry expires after its own ttl (never while dirty), a rewrite without one takes the cache’s', async () => {
    const { a, tiers } = await pair(new MemoryStore(), 0)
    const admin = server.client()
    clients.push(admin)
    const layout = (tiers[0] as RedisTier).layout
    const entry = (key: string): string => layout.entry(layout.shardOf(key), key)
    await a.set('short', 1, { ttlMs: 60_000 })
    await a.set('plain', 1)
    assert.equal(await admin.pttl(entry('short')), -1, 'no ttl while dirty')
    await a.flush()
    const ttl = await admin.pttl(entry('short'))
    assert.ok(ttl > 0 && ttl <= 60_000, `clean: its own ttl (${ttl})`)
    assert.equal(await admin.pttl(entry('plain')), -1, 'the cache’s ttl: none')
    await a.set('short', 2)
    await a.flush()
    assert.equal(await admin.pttl(entry('short')), -1, 'rewritten without a ttl: the cache’s again')
    await assert.rejects(a.set('x', 1, { ttlMs: -1 }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'ttlMs')
  })

  it('peek and deadLetters are synchronous and refuse with a typed error naming the tier', async () => {
    const { a } = await pair()
    assert.throws(
      () => a.peek('k'),
      (e: unknown) => e instanceof InvalidOptionError && e.option === 'tier' && /synchronous/.test(e.message),
    )
    assert.throws(
      () => a.deadLetters(),
      (e: unknown) => e instanceof InvalidOptionError && e.option === 'tier',
    )
  })
}

for (const binary of SERVER_BINARIES) {
  describe(`read-modify-writes on a Redis tier (${binary})`, () => {
    before(async () => {
      server = await startOwnRedis([], { binary })
    })
    after(async () => {
      for (const cache of caches.splice(0)) await cache.close()
      for (const c of clients.splice(0)) c.disconnect()
      await server.destroy()
    })
    suite()
  })
}
