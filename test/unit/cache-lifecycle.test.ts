/** Lifecycle edges: waiting writes at close, dead letters across a restart, write-through in order mode. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryStore, type StoreOp } from '../../src/index.js'
import { settle } from '../../src/testing/fake-clock.js'
import { GatedStore, PoisonStore } from '../helpers/faulty-stores.js'
import { openTestCache } from '../helpers/open.js'

describe('close() with writes waiting for room', () => {
  it('rejects them with CacheClosedError and applies none of them', async () => {
    const gated = new GatedStore(new MemoryStore())
    const { cache, clock } = await openTestCache(gated, { backlog: { maxEntries: 2, whenFull: 'wait' }, closeTimeoutMs: 100 })
    await cache.set('a', 1)
    await cache.set('b', 1)
    const waiting = [cache.set('c', 1), cache.set('d', 1)]
    for (const w of waiting) w.catch(() => undefined)
    await settle()
    assert.equal(cache.stats().backlog.waitingWrites, 2)
    const closing = cache.close()
    await clock.advance(200)
    const report = await closing
    for (const w of waiting) await assert.rejects(w, { code: 'E_CLOSED' })
    assert.deepEqual([...report.unflushedKeys].sort(), ['a', 'b'], 'the waiting writes were never applied')
    await gated.open()
  })
})

describe('dead letters across a restart', () => {
  it('are still listed, and their values still served, after the cache is reopened', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wb-dlq-restart-'))
    try {
      const inner = new MemoryStore()
      const store = new PoisonStore(inner, { isPoison: (op: StoreOp) => op.kind === 'set' && op.value === 'poison' })
      const first = await openTestCache(store, { dir })
      await first.cache.set('bad', 'poison')
      await first.cache.set('good', 'fine')
      const flushing = first.cache.flush()
      for (let i = 0; i < 100; i++) await first.clock.advance(50)
      const report = await flushing
      assert.deepEqual(
        report.deadLettered.map((l) => l.key),
        ['bad'],
      )
      await first.cache.close()

      const second = await openTestCache(store, { dir })
      assert.deepEqual(
        second.cache.deadLetters().map((l) => [l.key, l.error.code]),
        [['bad', 'E_POISON']],
      )
      assert.equal(await second.cache.get('bad'), 'poison', 'the dead-lettered value is served, not the store miss')
      assert.equal(inner.snapshot().has('bad'), false)
      await second.cache.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('write-through with coalesce: false', () => {
  it('resolves once the write is committed, after the earlier writes of the key, in order', async () => {
    const seen: StoreOp[] = []
    const inner = new MemoryStore()
    const store = { writeBatch: async (ops: readonly StoreOp[]) => (seen.push(...ops), inner.writeBatch(ops)), load: (keys: readonly string[]) => inner.load(keys) }
    const { cache } = await openTestCache(store, { coalesce: false, flush: { intervalMs: 60_000 } })
    await cache.set('k', 1)
    await cache.set('k', 2)
    await cache.set('k', 3, { durability: 'store' })
    assert.equal(inner.snapshot().get('k'), 3)
    assert.deepEqual(
      seen.map((op) => (op.kind === 'set' ? op.value : null)),
      [1, 2, 3],
    )
    await cache.close()
  })
})
