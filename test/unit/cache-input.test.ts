import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { InvalidKeyError, InvalidValueError, MemoryStore, WriteBehindCache } from '../../src/index.js'
import { openTestCache } from '../helpers/open.js'

const cyclic: Record<string, unknown> = { a: 1 }
cyclic.self = cyclic

const badValues: Array<[string, unknown]> = [
  ['undefined', undefined],
  ['a function', () => 1],
  ['a symbol', Symbol('s')],
  ['a BigInt', 10n],
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['a cycle', cyclic],
  ['a Map', new Map([[1, 2]])],
  ['a Set', new Set([1])],
  ['a nested function', { a: { b: () => 1 } }],
  ['a nested undefined', { a: [1, undefined] }],
  [
    'a class instance',
    new (class Point {
      x = 1
    })(),
  ],
  ['-0', -0],
  ['a nested -0', { n: [1, -0] }],
  ['a Date', new Date(0)],
  ['a nested Date', { at: new Date(0) }],
]

describe('bad input gets a typed error and applies nothing', () => {
  for (const [name, value] of badValues) {
    it(`rejects ${name} as a value`, async () => {
      const store = new MemoryStore()
      const { cache } = await openTestCache(store)
      const versionBefore = cache.stats().lastVersion
      await assert.rejects(cache.set('k', value), (e: unknown) => e instanceof InvalidValueError && e.code === 'E_INVALID_VALUE' && e.key === 'k')
      assert.equal(await cache.get('k'), undefined)
      assert.equal(cache.stats().writes, 0)
      assert.equal(cache.stats().lastVersion, versionBefore, 'no version was issued')
      await cache.close()
    })
  }

  const badKeys: Array<[string, unknown]> = [
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['an object', { k: 1 }],
    ['an empty string', ''],
    ['a key over maxKeyBytes', 'x'.repeat(1025)],
    ['a multibyte key over maxKeyBytes', 'é'.repeat(513)],
    ['a key with a lone surrogate', 'player:\uD800'],
  ]
  for (const [name, key] of badKeys) {
    it(`rejects ${name} as a key, in set, get and delete`, async () => {
      const { cache } = await openTestCache(new MemoryStore())
      const isKeyError = (e: unknown) => e instanceof InvalidKeyError && e.code === 'E_INVALID_KEY'
      await assert.rejects(cache.set(key as string, 1), isKeyError)
      await assert.rejects(cache.get(key as string), isKeyError)
      await assert.rejects(cache.delete(key as string), isKeyError)
      assert.equal(cache.stats().writes, 0)
      await cache.close()
    })
  }

  it('rejects a value over maxValueBytes, counting UTF-8 bytes', async () => {
    const { cache } = await openTestCache(new MemoryStore(), { maxValueBytes: 100 })
    await cache.set('ok', 'a'.repeat(98))
    await assert.rejects(cache.set('big', 'a'.repeat(99)), { code: 'E_INVALID_VALUE' })
    await assert.rejects(cache.set('wide', 'é'.repeat(50)), { code: 'E_INVALID_VALUE' })
    await cache.close()
  })

  it('setMany validates everything before applying anything', async () => {
    const store = new MemoryStore()
    const { cache } = await openTestCache(store)
    await assert.rejects(
      cache.setMany([
        ['a', 1],
        ['b', 2],
        ['c', undefined],
      ]),
      { code: 'E_INVALID_VALUE' },
    )
    assert.equal(await cache.get('a'), undefined)
    assert.equal(cache.stats().writes, 0)
    await cache.setMany([
      ['a', 1],
      ['b', 2],
    ])
    assert.deepEqual(await cache.getMany(['a', 'b']), [1, 2])
    await cache.close()
  })

  const reasons: Array<[string, unknown, RegExp]> = [
    ['-0, saying JSON cannot carry it', -0, /-0 cannot be stored \(JSON and the stores would give it back as 0\)/],
    ['a Date, saying what to store instead', { at: new Date(0) }, /a Date is not plain JSON data .*toISOString\(\).* at \$\.at\./],
    ['undefined, in plain words', { a: [1, undefined] }, /: undefined cannot be stored .* at \$\.a\[1\]\./],
    ['a bigint, in plain words', 10n, /: a bigint cannot be stored/],
    ['a class instance, by its class', { p: new (class Point {})() }, /an instance of Point is not plain JSON data .* at \$\.p\./],
  ]
  for (const [name, value, message] of reasons) {
    it(`names the reason for ${name}`, async () => {
      const { cache } = await openTestCache(new MemoryStore())
      await assert.rejects(cache.set('k', value), (e: unknown) => e instanceof InvalidValueError && message.test(e.message) && !/\ba undefined\b/.test(e.message))
      await cache.close()
    })
  }

  it('names where a cycle closes, not a 512-deep path', async () => {
    const { cache } = await openTestCache(new MemoryStore())
    const root: Record<string, unknown> = { a: { b: {} } }
    ;((root.a as Record<string, unknown>).b as Record<string, unknown>).back = root
    await assert.rejects(cache.set('k', root), (e: unknown) => e instanceof InvalidValueError && / a cycle \(back to \$\) at \$\.a\.b\.back\./.test(e.message))
    const list: unknown[] = [1, { inner: [] }]
    ;(list[1] as { inner: unknown[] }).inner.push(list[1])
    await assert.rejects(cache.set('k', list), (e: unknown) => e instanceof InvalidValueError && /a cycle \(back to \$\[1\]\) at \$\[1\]\.inner\[0\]\./.test(e.message))
    const shared = { x: 1 }
    await cache.set('dag', { a: shared, b: [shared, shared] })
    assert.deepEqual(await cache.get('dag'), { a: { x: 1 }, b: [{ x: 1 }, { x: 1 }] }, 'a value seen twice, not inside itself, is no cycle')
    await cache.close()
  })

  it('stores what it checked: a getter is read once, so a value it returns on a later read cannot get in', async () => {
    const store = new MemoryStore()
    const { cache } = await openTestCache(store, { flush: { intervalMs: 60_000 } })
    let reads = 0
    const value = {
      get balance(): unknown {
        reads++
        return reads === 1 ? 100 : new Map([['not', 'checked']])
      },
    }
    await cache.set('k', value)
    assert.equal(reads, 1)
    assert.deepEqual(await cache.get('k'), { balance: 100 })
    await cache.flush()
    assert.deepEqual(store.snapshot().get('k'), { balance: 100 })
    await cache.close()
  })

  it('stores plain JSON data exactly, and gives back a copy', async () => {
    const { cache } = await openTestCache(new MemoryStore())
    const value = { s: 'ünï', n: -1.5, b: false, z: null, a: [1, [2, { c: 'd' }]], e: {} }
    await cache.set('k', value)
    value.s = 'mutated after set'
    const read = (await cache.get('k')) as typeof value
    assert.deepEqual(read, { s: 'ünï', n: -1.5, b: false, z: null, a: [1, [2, { c: 'd' }]], e: {} })
    await cache.close()
  })
})

describe('options are validated at the door', () => {
  const store = new MemoryStore()
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['no store', { store: undefined }, /store must be a Store/],
    ['a store without writeBatch', { store: { load: async () => new Map() } }, /store must be a Store/],
    ['an unknown durability', { durability: 'fast' }, /durability must be one of/],
    ["durability 'log' without a dir", { durability: 'log' }, /needs a dir/],
    ['a zero batch size', { flush: { batchSize: 0 } }, /flush\.batchSize must be a whole number >= 1/],
    ['a fractional concurrency', { flush: { concurrency: 1.5 } }, /flush\.concurrency must be a whole number/],
    ['a bad whenFull', { backlog: { whenFull: 'drop' } }, /backlog\.whenFull must be one of/],
    ['an unknown logWriteScheduling', { logWriteScheduling: 'later' }, /logWriteScheduling must be one of 'microtask', 'immediate'/],
    ['a negative interval', { flush: { intervalMs: -1 } }, /flush\.intervalMs/],
    ['a string maxEntries', { backlog: { maxEntries: '10' } }, /backlog\.maxEntries/],
    ['an empty dir', { dir: '' }, /dir must be a non-empty string/],
    ['coalesce not a boolean', { coalesce: 'yes' }, /coalesce must be true or false/],
    ['retry.maxDelayMs below baseDelayMs', { retry: { baseDelayMs: 100, maxDelayMs: 10 } }, /retry\.maxDelayMs/],
    ['a misspelled durabilty', { durabilty: 'disk' }, /^unknown option 'durabilty'; did you mean 'durability'\?$/],
    ['ttl (the option is ttlMs)', { ttl: 60_000 }, /^unknown option 'ttl'; did you mean 'ttlMs'\? \(milliseconds\)$/],
    ['flush: { interval }', { flush: { interval: 100 } }, /^unknown option 'flush\.interval'; did you mean 'flush\.intervalMs'\?$/],
    ['a group option at the top level', { batchSize: 10 }, /^unknown option 'batchSize'; did you mean 'flush\.batchSize'\?$/],
    ['a name nothing is near', { zzzzzzzz: 1 }, /^unknown option 'zzzzzzzz'; expected one of 'store', 'dir'/],
    ['flush: 500', { flush: 500 }, /^flush must be an object such as \{ intervalMs: … \}, got 500$/],
    ['retry: true', { retry: true }, /^retry must be an object such as \{ baseDelayMs: … \}, got true$/],
    ['backlog: an array', { backlog: [] }, /^backlog must be an object .*, got an array$/],
    ["durability 'stor'", { durability: 'stor' }, /^durability must be one of 'memory', 'log', 'disk', 'store', got 'stor'; did you mean 'store'\?$/],
  ]
  for (const [name, options, message] of cases) {
    it(`throws a TypeError naming the option for ${name}`, async () => {
      await assert.rejects(WriteBehindCache.open({ store, warn: () => {}, ...options }), (e: unknown) => e instanceof TypeError && message.test(e.message))
    })
  }

  it('warns once, with a code, that a cache without a dir can lose acknowledged writes', async () => {
    const warnings: string[] = []
    const cache = await WriteBehindCache.open({ store, warn: (code) => warnings.push(code) })
    assert.deepEqual(warnings, ['WB_NO_LOG'])
    await cache.close()
  })
})

describe('per-write options are checked', () => {
  const bad: Array<[string, unknown, RegExp]> = [
    ["durability 'stor'", { durability: 'stor' }, /^durability must be one of 'memory', 'log', 'disk', 'store', got 'stor'; did you mean 'store'\?$/],
    ["durability 'STORE'", { durability: 'STORE' }, /got 'STORE'; did you mean 'store'\?$/],
    ['durability 42', { durability: 42 }, /^durability must be one of .*, got 42$/],
    ["durability 'log' without a dir", { durability: 'log' }, /^durability 'log' needs a dir for the dirty log, and this cache has none/],
    ["durability 'disk' without a dir", { durability: 'disk' }, /^durability 'disk' needs a dir/],
    ['a misspelled option', { durabilty: 'store' }, /^unknown write option 'durabilty'; did you mean 'durability'\?$/],
    ['options that are not an object', 'store', /^write options must be an object such as \{ durability: 'store' \}, got 'store'$/],
  ]
  for (const [name, options, message] of bad) {
    it(`refuses ${name} in set, delete and setMany, applying nothing`, async () => {
      const store = new MemoryStore()
      const { cache } = await openTestCache(store)
      const isIt = (e: unknown) => e instanceof TypeError && message.test(e.message)
      const opts = options as { durability: 'store' }
      await assert.rejects(cache.set('k', 1, opts), isIt)
      await assert.rejects(cache.delete('k', opts), isIt)
      await assert.rejects(cache.setMany([['k', 1]], opts), isIt)
      assert.equal(cache.stats().writes, 0)
      assert.equal(await cache.get('k'), undefined)
      await cache.flush()
      assert.equal(store.snapshot().size, 0)
      await cache.close()
    })
  }

  it('takes the good ones as before', async () => {
    const store = new MemoryStore()
    const { cache } = await openTestCache(store, { flush: { intervalMs: 60_000 } })
    await cache.set('s', 1, { durability: 'store' })
    assert.equal(store.snapshot().get('s'), 1, "durability 'store' waited for the store")
    await cache.set('m', 2, { durability: 'memory' })
    await cache.set('d', 3, {})
    await cache.set('u', 4, { durability: undefined })
    assert.deepEqual(await cache.getMany(['s', 'm', 'd', 'u']), [1, 2, 3, 4])
    await cache.close()
  })
})
