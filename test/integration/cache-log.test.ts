/**
 * The cache on its dirty log: what each durability level waits for, recovery on open, the
 * checkpoint keeping the log small, and versions that never go backwards across restarts.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryStore, WriteBehindCache, type Store, type StoreOp } from '../../src/index.js'
import { GatedStore } from '../helpers/faulty-stores.js'

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'wb-cache-log-'))
  try {
    await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** A store that accepts nothing (every batch fails, retryably): writes stay dirty. */
const downStore: Store = {
  async writeBatch() {
    throw Object.assign(new Error('down'), { retryable: true })
  },
  async load() {
    return new Map()
  },
}

describe('durability levels on the dirty log', () => {
  it("'log' resolves after the OS write; 'disk' after an fsync shared by concurrent writers", async () => {
    await withDir(async (dir) => {
      const cache = await WriteBehindCache.open({ store: new MemoryStore(), dir, flush: { intervalMs: 60_000 } })
      await cache.set('a', 1)
      const afterLog = cache.stats().log!
      assert.ok(afterLog.writes >= 1 && afterLog.bytes > 0)
      assert.equal(afterLog.fsyncs, 0, "'log' does not wait for an fsync")
      await Promise.all(Array.from({ length: 200 }, (_, i) => cache.set(`k${i}`, i, { durability: 'disk' })))
      const afterDisk = cache.stats().log!
      assert.ok(afterDisk.fsyncs >= 1 && afterDisk.fsyncs <= 3, `200 concurrent 'disk' writes shared ${afterDisk.fsyncs} fsyncs`)
      await cache.close()
    })
  })

  it("logWriteScheduling 'immediate' gives writes from separate callbacks of one turn one write(2); 'microtask' one each", async () => {
    await withDir(async (dir) => {
      for (const logWriteScheduling of ['microtask', 'immediate'] as const) {
        const cache = await WriteBehindCache.open({ store: downStore, dir, logWriteScheduling, closeTimeoutMs: 0, flush: { intervalMs: 60_000 } })
        try {
          await cache.set('warm', 0)
          const before = cache.stats().log!.writes
          // 20 writers, each in its own macrotask of the same turn, as request handlers would be.
          await Promise.all(
            Array.from(
              { length: 20 },
              (_, i) =>
                new Promise<void>((resolve, reject) => {
                  setImmediate(() => {
                    cache.set(`h${i}`, i).then(resolve, reject)
                  })
                }),
            ),
          )
          const writes = cache.stats().log!.writes - before
          if (logWriteScheduling === 'microtask') assert.equal(writes, 20, 'one write(2) per callback')
          else assert.equal(writes, 1, 'one write(2) for the turn')
        } finally {
          await cache.close()
        }
      }
      // Both runs' writes were acknowledged at 'log' and the store took none: all are in the log.
      const store = new MemoryStore()
      const reopened = await WriteBehindCache.open({ store, dir })
      await reopened.flush()
      const snapshot = store.snapshot()
      for (let i = 0; i < 20; i++) assert.equal(snapshot.get(`h${i}`), i)
      await reopened.close()
    })
  })

  it("'memory' writes nobody waits on are logged once per event-loop turn, and still replayed", async () => {
    await withDir(async (dir) => {
      const cache = await WriteBehindCache.open({ store: downStore, dir, durability: 'memory', closeTimeoutMs: 0, flush: { intervalMs: 60_000 } })
      try {
        await cache.set('warm', 0)
        await new Promise((resolve) => setImmediate(resolve))
        const before = cache.stats().log!
        await Promise.all(
          Array.from(
            { length: 20 },
            (_, i) =>
              new Promise<void>((resolve, reject) => {
                setImmediate(() => {
                  cache.set(`m${i}`, i).then(resolve, reject)
                })
              }),
          ),
        )
        await new Promise((resolve) => setImmediate(resolve))
        const after = cache.stats().log!
        assert.equal(after.writes - before.writes, 1, '20 memory writes of one turn share one write(2)')
        assert.ok(after.bytes > before.bytes)
      } finally {
        await cache.close()
      }
      const store = new MemoryStore()
      const reopened = await WriteBehindCache.open({ store, dir })
      await reopened.flush()
      for (let i = 0; i < 20; i++) assert.equal(store.snapshot().get(`m${i}`), i)
      await reopened.close()
    })
  })

  it('replays unflushed writes on open, latest version per key, and flushes them', async () => {
    await withDir(async (dir) => {
      const first = await WriteBehindCache.open({ store: downStore, dir, closeTimeoutMs: 50, retry: { baseDelayMs: 1, maxDelayMs: 5 } })
      for (let i = 0; i < 100; i++) await first.set(`k${i % 10}`, i)
      await first.delete('k3')
      const report = await first.close()
      assert.equal(report.drained, false)
      assert.equal(report.safeInLog, true)
      const store = new MemoryStore()
      const second = await WriteBehindCache.open({ store, dir })
      // The batch in flight at close held the latest write of each key, so the checkpoint may
      // skip the 90 older records it supersedes; the latest per key must all be there.
      assert.ok(second.recovery!.records >= 11 && second.recovery!.records <= 101, `replayed ${second.recovery?.records} records`)
      assert.equal(second.recovery?.keys, 10)
      assert.equal(await second.get('k7'), 97, 'a replayed write is readable before it is flushed')
      await second.flush()
      assert.deepEqual(store.snapshot(), new Map([0, 1, 2, 4, 5, 6, 7, 8, 9].map((k) => [`k${k}`, 90 + k])))
      await second.close()
      const third = await WriteBehindCache.open({ store, dir })
      assert.equal(third.recovery?.records, 0, 'after a drained close the checkpoint covers everything')
      await third.close()
    })
  })

  it('a close that times out keeps every unflushed write in the log, in flight or not', async () => {
    await withDir(async (dir) => {
      const gated = new GatedStore(new MemoryStore())
      const first = await WriteBehindCache.open({ store: gated, dir, closeTimeoutMs: 50, flush: { intervalMs: 3_600_000, concurrency: 1, batchSize: 1 } })
      await first.set('b', 'b')
      await first.set('c', 'c')
      const z = first.set('z', 'z', { durability: 'store' }) // jumps the queue: the only batch in flight
      z.catch(() => undefined)
      await gated.nextBatch()
      const report = await first.close()
      assert.deepEqual([...report.unflushedKeys].sort(), ['b', 'c', 'z'])
      const store = new MemoryStore()
      const second = await WriteBehindCache.open({ store, dir })
      await second.flush()
      assert.deepEqual(
        store.snapshot(),
        new Map([
          ['b', 'b'],
          ['c', 'c'],
          ['z', 'z'],
        ]),
      )
      await second.close()
      await gated.open()
    })
  })

  it('deletes whole segments behind the checkpoint, so the log stays small while the store keeps up', async () => {
    await withDir(async (dir) => {
      const cache = await WriteBehindCache.open({ store: new MemoryStore(), dir, segmentBytes: 16 * 1024, flush: { intervalMs: 1 } })
      for (let round = 0; round < 20; round++) {
        for (let i = 0; i < 500; i++) await cache.set(`k${i}`, { round, pad: 'x'.repeat(40) })
        await cache.flush()
        await new Promise((r) => setTimeout(r, 60))
      }
      await cache.close()
      const segments = (await readdir(dir)).filter((f) => f.includes('seg') || f.endsWith('.log') || f.endsWith('.wbl'))
      assert.ok(cache.stats().log!.bytes < 20 * 500 * 60, `log holds ${cache.stats().log!.bytes} bytes for ${20 * 500} writes`)
      assert.ok(segments.length <= 4, `segments left: ${segments.join(', ')}`)
    })
  })

  it('never issues a version at or below one issued before a restart, even with a clock that went back', async () => {
    await withDir(async (dir) => {
      const seen: StoreOp[] = []
      const store = new MemoryStore()
      const recording: Store = { writeBatch: async (ops) => (seen.push(...ops), store.writeBatch(ops)), load: (keys) => store.load(keys) }
      let now = Date.UTC(2030, 0, 1)
      const clock = { now: () => now, setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms), clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout) }
      const first = await WriteBehindCache.open({ store: recording, dir, clock })
      for (let i = 0; i < 50; i++) await first.set('k', i)
      await first.close()
      const highest = Math.max(...seen.map((op) => op.version))
      now -= 3_600_000 // the clock stepped back an hour
      const second = await WriteBehindCache.open({ store: recording, dir, clock })
      await second.set('k', 'after restart')
      await second.flush()
      assert.ok(second.stats().lastVersion > highest, 'versions continue above the recovered high-water mark')
      assert.equal(store.snapshot().get('k'), 'after restart', 'the new write is not fenced out by the older ones')
      await second.close()
    })
  })

  it('a second cache on the same dir gets DirectoryLockedError', async () => {
    await withDir(async (dir) => {
      const first = await WriteBehindCache.open({ store: new MemoryStore(), dir })
      await assert.rejects(WriteBehindCache.open({ store: new MemoryStore(), dir }), { code: 'E_DIR_LOCKED' })
      await first.close()
      const again = await WriteBehindCache.open({ store: new MemoryStore(), dir })
      await again.close()
    })
  })
})
