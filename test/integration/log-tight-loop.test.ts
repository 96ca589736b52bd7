/**
 * A writer that awaits every write at durability `log` in an endless loop never leaves
 * microtasks (the log schedules its writes in a microtask, see dirty-log.ts): without care, timers
 * starve, nothing flushes, no checkpoint is taken, and the log grows without bound. The log gives
 * the event loop a turn once per segment written without one.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemoryStore, WriteBehindCache } from '../../src/index.js'

describe('a tight loop of awaited log writes', () => {
  it('lets timers run: the cache flushes and checkpoints during the loop, removing flushed segments', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wb-tight-'))
    try {
      const store = new MemoryStore()
      const cache = await WriteBehindCache.open({ store, dir, durability: 'log', segmentBytes: 16 * 1024, flush: { intervalMs: 1 } })
      let ticks = 0
      const timer = setInterval(() => ticks++, 1)
      for (let i = 0; i < 200_000; i++) await cache.set(`k${i % 40}`, { i })
      const segments = (await readdir(dir)).filter((f) => f.endsWith('.wbl')).sort()
      const seen = { ticks, batches: cache.stats().flush.batches, firstSegment: segments[0], segments: segments.length }
      clearInterval(timer)
      assert.ok(seen.ticks > 0, `timers ran during the loop (${JSON.stringify(seen)})`)
      assert.ok(seen.batches > 0, `the cache flushed during the loop (${JSON.stringify(seen)})`)
      assert.notEqual(seen.firstSegment, segments.length > 0 ? 'segment-000000000001.wbl' : undefined, `checkpoints removed flushed segments during the loop (${JSON.stringify(seen)})`)
      await cache.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
