/** Versions stay safe integers whatever the clock does (issue 10.13). */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { MemoryStore, VersionExhaustedError, WriteBehindCache } from '../../src/index.js'
import type { Clock } from '../../src/contracts/clock.js'
import { VersionSource } from '../../src/tier/embedded/versions.js'
import { FakeClock } from '../../src/testing/fake-clock.js'

/** A FakeClock whose reading can be thrown off by `offsetMs`, as a stepped system clock is. */
class SteppedClock implements Clock {
  offsetMs = 0
  constructor(readonly fake: FakeClock) {}
  now(): number {
    return this.fake.now() + this.offsetMs
  }
  setTimeout(fn: () => void, ms: number) {
    return this.fake.setTimeout(fn, ms)
  }
  clearTimeout(handle: ReturnType<Clock['setTimeout']>): void {
    this.fake.clearTimeout(handle)
  }
}

const YEAR_2300 = Date.UTC(2300, 0, 1)

describe('versions and a clock that jumps', () => {
  it('a clock at the year 2300 for 60 ms does not push versions past 2^53: later writes work', async () => {
    const fake = new FakeClock()
    const clock = new SteppedClock(fake)
    const store = new MemoryStore()
    const cache = await WriteBehindCache.open({ store, clock, warn: () => {}, flush: { intervalMs: 10 } })
    await cache.set('before', 1)
    clock.offsetMs = YEAR_2300 - fake.now()
    await cache.set('during', 2)
    await fake.advance(60) // flush ticks read the clock while it is off
    clock.offsetMs = 0
    await fake.advance(20)
    await cache.set('after', 3)
    await cache.flush()
    for (const key of ['before', 'during', 'after']) {
      const version = store.versionOf(key)
      assert.ok(version !== undefined && Number.isSafeInteger(version), `${key}: version ${version}`)
    }
    assert.equal(await cache.get('after'), 3)
    await cache.close()
  })

  it('ignores an implausible clock as a floor at construction too', () => {
    const fake = new FakeClock()
    const clock = new SteppedClock(fake)
    clock.offsetMs = YEAR_2300 - fake.now()
    const versions = new VersionSource(clock, 42)
    assert.equal(versions.next(), 43)
  })

  it('versions at Number.MAX_SAFE_INTEGER give VersionExhaustedError, never a raw TypeError', async () => {
    const versions = new VersionSource(new FakeClock(), Number.MAX_SAFE_INTEGER - 1)
    assert.equal(versions.next(), Number.MAX_SAFE_INTEGER)
    assert.throws(
      () => versions.next(),
      (e: unknown) => e instanceof VersionExhaustedError && e.code === 'E_VERSION_EXHAUSTED',
    )

    // Through the cache: a store row with such a version is read, then a write of the key is refused.
    const store = new MemoryStore()
    await store.writeBatch([{ kind: 'set', key: 'k', version: Number.MAX_SAFE_INTEGER, value: 1, encoded: '1' }])
    const cache = await WriteBehindCache.open({ store, clock: new FakeClock(), warn: () => {} })
    assert.equal(await cache.get('k'), 1)
    await assert.rejects(cache.set('k', 2), VersionExhaustedError)
    assert.equal(await cache.get('k'), 1)
    await cache.close()
  })
})
