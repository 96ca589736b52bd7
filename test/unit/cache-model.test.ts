/**
 * Property test: random interleavings of set, delete, flush and time passing, over a few keys,
 * with one to three concurrent batches, coalescing on or off, and a store that fails a share of
 * batches (sometimes after applying them). At every step a read gives the model's value
 * (read-your-own-writes); after each flush the store holds exactly the model.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { MemoryStore, type BatchResult, type Store, type StoreOp } from '../../src/index.js'
import { FlakyStore } from '../helpers/faulty-stores.js'
import { seededRandom } from '../helpers/seeded-random.js'
import { openTestCache } from '../helpers/open.js'

type Step = { t: 'set'; key: string; value: number } | { t: 'delete'; key: string } | { t: 'flush' } | { t: 'advance'; ms: number }

const keyArb = fc.constantFrom('a', 'b', 'c', 'd', 'e')
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('set' as const), key: keyArb, value: fc.integer() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('delete' as const), key: keyArb }) },
  { weight: 1, arbitrary: fc.constant({ t: 'flush' as const }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 400 }) }) },
)

/** Checks that no key is ever in two concurrent batches; each batch takes a few event-loop turns. */
class ExclusiveStore implements Store {
  readonly inFlight = new Set<string>()
  violations = 0
  constructor(private readonly inner: Store) {}
  async writeBatch(ops: readonly StoreOp[]): Promise<BatchResult | void> {
    const keys = new Set(ops.map((o) => o.key))
    for (const k of keys) if (this.inFlight.has(k)) this.violations++
    for (const k of keys) this.inFlight.add(k)
    try {
      await new Promise<void>((r) => setImmediate(r))
      return await this.inner.writeBatch(ops)
    } finally {
      for (const k of keys) this.inFlight.delete(k)
    }
  }
  load(keys: readonly string[]) {
    return this.inner.load(keys)
  }
}

/** Resolves `flush()` by moving time in small steps; checks the store the moment it resolves. */
async function flushAndCheck(cache: { flush(): Promise<unknown> }, clock: { advance(ms: number): Promise<void> }, check: () => void): Promise<void> {
  let done = false
  const flushing = cache.flush().then(() => {
    done = true
    check()
  })
  for (let i = 0; i < 100_000 && !done; i++) await clock.advance(5)
  await flushing
}

describe('the cache against a model', () => {
  it('matches a plain map under random puts, deletes, flushes and store failures', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArb, { minLength: 1, maxLength: 60 }),
        fc.record({
          coalesce: fc.boolean(),
          concurrency: fc.integer({ min: 1, max: 3 }),
          batchSize: fc.integer({ min: 1, max: 4 }),
          triggerEntries: fc.constantFrom(1, 3, 1000),
          failRate: fc.constantFrom(0, 0.3),
          seed: fc.integer(),
        }),
        async (steps, config) => {
          const inner = new MemoryStore()
          const exclusive = new ExclusiveStore(inner)
          const store = config.failRate === 0 ? exclusive : new FlakyStore(exclusive, { failRate: config.failRate, random: seededRandom(config.seed) })
          const { cache, clock } = await openTestCache(store, {
            coalesce: config.coalesce,
            flush: { concurrency: config.concurrency, batchSize: config.batchSize, triggerEntries: config.triggerEntries, intervalMs: 100 },
            retry: { baseDelayMs: 1, maxDelayMs: 20, maxAttempts: 1000, circuitThreshold: 1000 },
          })
          const model = new Map<string, number>()
          for (const step of steps) {
            if (step.t === 'set') {
              await cache.set(step.key, step.value)
              model.set(step.key, step.value)
            } else if (step.t === 'delete') {
              await cache.delete(step.key)
              model.delete(step.key)
            } else if (step.t === 'advance') {
              await clock.advance(step.ms)
            } else {
              await flushAndCheck(cache, clock, () => assert.deepEqual(inner.snapshot(), model))
            }
            for (const key of ['a', 'b', 'c', 'd', 'e']) assert.equal(await cache.get(key), model.get(key))
          }
          await flushAndCheck(cache, clock, () => assert.deepEqual(inner.snapshot(), model))
          assert.equal(exclusive.violations, 0, 'a key was in two concurrent batches')
          assert.equal(cache.stats().deadLetters, 0)
          await cache.close()
        },
      ),
      { numRuns: 150 },
    )
  })
})
