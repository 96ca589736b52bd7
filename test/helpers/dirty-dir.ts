/** A cache directory whose dirty log holds writes no store has: input for `recover` and `dlq replay` tests. */
import assert from 'node:assert/strict'
import { systemClock } from '../../src/contracts/clock.js'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { MemoryStore } from '../../src/stores/memory-store.js'
import { OutageStore } from './faulty-stores.js'

export interface Player {
  n: number
  name: string
}

/**
 * Writes through a cache whose store is always down (40 sets over 25 keys, then a delete), then
 * closes it at once: nothing reaches a store, all 25 keys stay in the log. Returns the last value
 * per key (undefined = deleted).
 */
export async function leaveDirtyLog(dir: string): Promise<Map<string, Player | undefined>> {
  const store = new OutageStore(new MemoryStore(), systemClock, { from: 0, to: Number.POSITIVE_INFINITY })
  const cache = await WriteBehindCache.open({
    store,
    dir,
    durability: 'log',
    closeTimeoutMs: 0,
    flush: { intervalMs: 60_000 },
    retry: { maxAttempts: 1000, baseDelayMs: 60_000 },
  })
  const expected = new Map<string, Player | undefined>()
  for (let i = 0; i < 40; i++) {
    const key = `user:${i % 25}`
    const value = { n: i, name: `player ${i}` }
    await cache.set(key, value)
    expected.set(key, value)
  }
  await cache.delete('user:3')
  expected.set('user:3', undefined)
  const report = await cache.close()
  assert.equal(report.drained, false, 'the failing store must leave writes unflushed')
  assert.equal(report.safeInLog, true)
  assert.equal(report.unflushed, 25)
  return expected
}
