/**
 * The default memory bound (`DEFAULTS.memory`: 1M entries, 256 MiB): a cache opened without
 * `memory` options stops growing at 1M entries by evicting the least recently used CLEAN entries,
 * never a dirty one. A million entries take a few seconds, so this check has its own file.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { DEFAULTS, type LoadedEntry, type Store } from '../../src/index.js'
import { openTestCache } from '../helpers/open.js'

/** Takes every batch and holds nothing, so the test measures the cache's memory, not the store's. */
const forgetful: Store = {
  writeBatch: async () => {},
  load: async () => new Map<string, LoadedEntry>(),
}

describe('the default memory bound', () => {
  it('evicts the least recently used clean entries past 1M entries, and never a dirty one', async () => {
    const bound = DEFAULTS.memory.maxEntries
    assert.equal(bound, 1_000_000)
    const { cache } = await openTestCache<number>(forgetful, { flush: { intervalMs: 3_600_000, maxDelayMs: 3_600_000 } })
    const chunk = 50_000
    for (let from = 0; from < bound; from += chunk) {
      await cache.setMany(Array.from({ length: chunk }, (_, i): [string, number] => [`clean:${from + i}`, from + i]))
      await cache.flush()
    }
    assert.deepEqual({ ...cache.stats().memory, bytes: 0 }, { entries: bound, bytes: 0, evictions: 0, expired: 0 })
    for (let i = 0; i < 10; i++) await cache.set(`dirty:${i}`, i)
    const { memory, backlog } = cache.stats()
    assert.equal(backlog.entries, 10, 'ten writes not yet flushed')
    assert.equal(memory.entries, bound, 'held at the bound')
    assert.equal(memory.evictions, 10, 'ten clean entries made room')
    for (let i = 0; i < 10; i++) assert.equal(await cache.get(`dirty:${i}`), i, 'a dirty entry is kept')
    assert.equal(await cache.get('clean:0'), undefined, 'the coldest clean entry was evicted (the store holds nothing)')
    assert.equal(await cache.get('clean:999999'), 999_999, 'a recent one is still cached')
    await cache.close()
  })
})
