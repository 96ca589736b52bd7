// Exactly once across crashes and retries: the stored counter equals the sum of acknowledged
// increments, exactly. In process: a cache is "killed" by copying its dir as the OS holds it and
// cutting it off the store (test/helpers/crash-copy.ts), and a new cache opens the copy with the
// same MemoryStore, behind a FlakyStore that fails batches at random, some after applying them.
// The real kill -9 runs are in test/durability/counter-kill.test.ts.
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { describe, it } from 'node:test'
import { MemoryStore, WriteBehindCache, type BatchResult, type Store, type StoreOp } from '../../src/index.js'
import { FakeClock, settle } from '../../src/testing/fake-clock.js'
import { crashCopy, KillableStore } from '../helpers/crash-copy.js'
import { readCheckpoint } from '../../src/log/checkpoint.js'
import { FlakyStore, GatedStore } from '../helpers/faulty-stores.js'
import { seededRandom } from '../helpers/seeded-random.js'
import { tempDir } from './log-helpers.js'

const KEYS = ['hot:a', 'hot:b', 'hot:c', 'hot:d']
const SEED = Number(process.env.WB_COUNTER_SEED ?? Math.floor(Math.random() * 1_000_000))

async function open(store: Store, dir: string, clock: FakeClock, coalesce = true): Promise<WriteBehindCache> {
  return WriteBehindCache.open({
    store,
    dir,
    clock,
    coalesce,
    durability: 'log',
    warn: () => {},
    flush: { intervalMs: 10, maxDelayMs: 40, batchSize: 3, concurrency: 2 },
    retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 40, circuitThreshold: 1000 },
  })
}

/** Runs the clock until `promise` settles. */
async function drive<T>(clock: FakeClock, promise: Promise<T>): Promise<T> {
  let done = false
  const watched = promise.finally(() => (done = true))
  for (let i = 0; i < 5000 && !done; i++) await clock.advance(20)
  if (!done) throw new Error('still pending after 100 s of fake time')
  return watched
}

describe('a sum op that was applied, then crashed on', () => {
  it('is sent again as the same op after the restart (fenced), not regrouped with the increments after it', async () => {
    const inner = new MemoryStore()
    let failNext = true
    // The first merge batch is applied and then fails: the cache backs off, not knowing it landed.
    const store: Store = {
      merges: inner.merges,
      writeBatch: async (ops: readonly StoreOp[]): Promise<BatchResult> => {
        const result = await inner.writeBatch(ops)
        if (failNext && ops.some((op) => op.kind === 'merge')) {
          failNext = false
          throw Object.assign(new Error('connection lost after commit'), { retryable: true })
        }
        return result
      },
      load: (keys) => inner.load(keys),
    }
    const dir = tempDir()
    const killable = new KillableStore(store)
    const clock = new FakeClock()
    const cache = await WriteBehindCache.open({ store: killable, dir, clock, durability: 'log', warn: () => {}, flush: { intervalMs: 10 }, retry: { baseDelayMs: 60_000 } })
    for (let i = 0; i < 3; i++) await cache.increment('n', 1)
    await clock.advance(15)
    assert.equal(inner.snapshot().get('n'), 3, 'the group of three landed; the cache waits to retry it')
    await cache.increment('n', 10)
    await cache.increment('n', 10)
    await settle()
    const copy = crashCopy(dir)
    killable.kill()

    const second = await WriteBehindCache.open({ store: inner, dir: copy, clock: new FakeClock(), durability: 'log', warn: () => {} })
    assert.equal(await second.get('n'), 23)
    await second.flush()
    assert.equal(inner.snapshot().get('n'), 23, 'exactly the five increments: the replayed group of three was fenced')
    await second.close()
    for (const d of [dir, copy]) rmSync(d, { recursive: true, force: true })
  })
})

describe('the log checkpoint while a merge op is in flight', () => {
  // Another key's flush moves the checkpoint while the op is held at the store's gate; then a crash.
  async function crashWhileHeld(write: (cache: WriteBehindCache) => Promise<unknown>): Promise<unknown> {
    const inner = new MemoryStore()
    const gated = new GatedStore(inner)
    const killable = new KillableStore(gated)
    const dir = tempDir()
    const clock = new FakeClock()
    const cache = await WriteBehindCache.open({ store: killable, dir, clock, durability: 'log', warn: () => {}, flush: { intervalMs: 10, batchSize: 1, concurrency: 4 } })
    await cache.set('other', 1)
    await write(cache)
    await clock.advance(15)
    await gated.release() // `other` lands; the key's op stays at the gate, not applied
    // The checkpoint is written in the background (an fsync and a rename): wait for the disk, not for time.
    for (let i = 0; i < 2500 && readCheckpoint(dir).lowWater === 0; i++) await new Promise((resolve) => setTimeout(resolve, 2))
    assert.ok(readCheckpoint(dir).lowWater > 0, 'the checkpoint moved past `other`')
    const copy = crashCopy(dir)
    killable.kill()
    const second = await WriteBehindCache.open({ store: inner, dir: copy, clock: new FakeClock(), durability: 'log', warn: () => {} })
    await second.flush()
    await second.close()
    for (const d of [dir, copy]) rmSync(d, { recursive: true, force: true })
    return inner.snapshot().get('n')
  }

  it('stays below the first increment the op sums, so a replay has them all', async () => {
    assert.equal(await crashWhileHeld(async (cache) => Promise.all([cache.increment('n', 1), cache.increment('n', 2)])), 3)
  })

  it('stays below the set that increments were folded into', async () => {
    assert.equal(await crashWhileHeld(async (cache) => cache.set('n', 100).then(() => cache.increment('n', 1))), 101)
  })
})

for (const coalesce of [true, false]) {
  describe(`increments under a flaky store and repeated crashes (coalesce: ${coalesce})`, () => {
    it(`the store ends equal to the acknowledged increments, exactly (seed ${SEED})`, async () => {
      const random = seededRandom(SEED + (coalesce ? 0 : 1))
      const inner = new MemoryStore()
      const acked = new Map<string, number>(KEYS.map((k) => [k, 0]))
      let best = -Infinity
      let dir = tempDir()
      const dirs = [dir]
      let appliedThenFailed = 0
      let deadLettered = 0
      let start = Date.UTC(2026, 0, 1)
      for (let life = 0; life < 8; life++) {
        const flaky = new FlakyStore(inner, { failRate: 0.3, random })
        const killable = new KillableStore(flaky)
        const clock = new FakeClock((start += 3_600_000))
        const cache = await open(killable, dir, clock, coalesce)
        cache.on('dead-letter', () => deadLettered++)
        const replaying = cache.replayDeadLetters()
        let crashed = false
        const issue = (): Promise<unknown> => {
          const key = KEYS[Math.floor(random() * KEYS.length)] as string
          if (random() < 0.1) {
            const score = Math.floor(random() * 1_000_000)
            return cache.max('best', score).then(() => {
              if (!crashed) best = Math.max(best, score)
            })
          }
          const by = 1 + Math.floor(random() * 9)
          return cache.increment(key, by).then(() => {
            if (!crashed) acked.set(key, (acked.get(key) ?? 0) + by)
          })
        }
        for (let step = 0; step < 10; step++) {
          await Promise.all(Array.from({ length: 20 }, issue))
          await clock.advance(Math.floor(random() * 30))
        }
        await settle()
        // Half the crashes land right after a burst of writes whose log records are still buffered:
        // they are lost with the process, and were never acknowledged.
        if (random() < 0.5) for (let i = 0; i < 20; i++) void issue().catch(() => {})
        crashed = true
        dir = crashCopy(dir)
        dirs.push(dir)
        killable.kill()
        void replaying.catch(() => {})
        appliedThenFailed += flaky.appliedThenFailed
      }
      const clock = new FakeClock((start += 3_600_000))
      const cache = await open(inner, dir, clock, coalesce)
      await drive(clock, cache.flush())
      while (cache.deadLetters().length > 0) await drive(clock, cache.replayDeadLetters())
      await drive(clock, cache.flush())
      const report = await cache.close()
      assert.equal(report.drained, true)
      const stored = inner.snapshot()
      for (const key of KEYS) assert.equal(stored.get(key), acked.get(key), `${key}: stored vs acknowledged (seed ${SEED})`)
      if (best > -Infinity) assert.equal(stored.get('best'), best)
      assert.ok(appliedThenFailed > 0, 'batches were applied, then failed, then redelivered')
      console.log(`seed ${SEED}, coalesce ${coalesce}: ${[...acked.values()].reduce((a, b) => a + b, 0)} acknowledged, ${appliedThenFailed} batches applied then failed, ${deadLettered} dead-lettered`)
      for (const d of dirs) rmSync(d, { recursive: true, force: true })
    })
  })
}
