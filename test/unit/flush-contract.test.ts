/**
 * The flush pipeline's side of "every acknowledged write reaches the store" (issue 10): writes the
 * store supersedes (10.3), dead letters that newer writes supersede (10.2), a store that refuses
 * every write alike (10.6), and promises that must settle (10.8). MemoryStore, faulty wrappers
 * and FakeClock throughout.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CacheClosedError, FlushTimeoutError, MemoryStore, WriteSupersededError, type BatchResult, type LoadedEntry, type Store, type StoreOp, type SupersededWrite } from '../../src/index.js'
import { FakeClock } from '../../src/testing/fake-clock.js'
import { BlackHoleStore, PoisonStore, RefusingStore } from '../helpers/faulty-stores.js'
import { openTestCache } from '../helpers/open.js'

const DAY = 86_400_000

/** Advances the clock until `promise` settles (or `maxSteps` steps went by); returns whether it settled. */
async function settleOn(promise: Promise<unknown>, clock: FakeClock, stepMs = 50, maxSteps = 10_000): Promise<boolean> {
  let done = false
  promise.then(
    () => (done = true),
    () => (done = true),
  )
  for (let i = 0; i < maxSteps && !done; i++) await clock.advance(stepMs)
  return done
}

/** A store that answers like `inner` but cannot tell its high-water mark (no highestVersion). */
function withoutHighestVersion(inner: MemoryStore): Store {
  return {
    writeBatch: (ops: readonly StoreOp[]): Promise<BatchResult> => inner.writeBatch(ops),
    load: (keys: readonly string[]): Promise<Map<string, LoadedEntry>> => inner.load(keys),
  }
}

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'wb-contract-'))
  try {
    await run(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

describe('10.3 a write the store supersedes', () => {
  it('without a dir, after the clock stepped back across a reopen, versions start above the store', async () => {
    const store = new MemoryStore()
    const first = await openTestCache(store, { clock: new FakeClock(Date.UTC(2026, 0, 2)) })
    await first.cache.set('k', 'before', { durability: 'store' })
    await first.cache.close()
    const held = store.versionOf('k') as number
    const { cache } = await openTestCache(store, { clock: new FakeClock(Date.UTC(2026, 0, 2) - DAY) })
    assert.ok(cache.stats().lastVersion >= held, 'the version source starts at the store high-water mark')
    await cache.set('k', 'after', { durability: 'store' })
    assert.equal(store.snapshot().get('k'), 'after', 'a write acknowledged as in the store is in the store')
    assert.equal(cache.stats().flush.superseded, 0)
    await cache.close()
  })

  it('a store that cannot tell its high-water mark: the fenced write rejects, is not served, and versions catch up', async () => {
    const inner = new MemoryStore()
    const first = await openTestCache(withoutHighestVersion(inner), { clock: new FakeClock(Date.UTC(2026, 0, 2)) })
    await first.cache.set('k', 'before', { durability: 'store' })
    await first.cache.close()
    const stored = inner.versionOf('k') as number
    const { cache } = await openTestCache(withoutHighestVersion(inner), { clock: new FakeClock(Date.UTC(2026, 0, 2) - DAY) })
    const events: SupersededWrite[] = []
    cache.on('superseded', (e) => events.push(e))
    const rejection = await cache.set('k', 'after', { durability: 'store' }).then(
      () => undefined,
      (error: unknown) => error,
    )
    assert.ok(rejection instanceof WriteSupersededError, `rejected with ${String(rejection)}`)
    assert.equal(rejection.code, 'E_SUPERSEDED')
    assert.equal(rejection.storeVersion, stored)
    assert.ok(rejection.version < stored)
    assert.equal(inner.snapshot().get('k'), 'before')
    assert.equal(await cache.get('k'), 'before', 'the cache serves what the store holds, not the refused value')
    assert.equal(cache.stats().flush.superseded, 1)
    assert.deepEqual(
      events.map((e) => [e.key, e.storeVersion]),
      [['k', stored]],
    )
    assert.ok(cache.stats().lastVersion >= stored, 'versions moved above the store')
    await cache.set('k', 'again', { durability: 'store' })
    assert.equal(inner.snapshot().get('k'), 'again', 'the next write wins')
    await cache.close()
  })

  it('a newer row written into the store from elsewhere: flush() reports it and the cache reads it', async () => {
    const store = new MemoryStore()
    const { cache, clock } = await openTestCache(store)
    await cache.set('k', 'mine')
    assert.ok(await settleOn(cache.flush(), clock))
    const elsewhere = cache.stats().lastVersion + 1_000_000
    await store.writeBatch([{ kind: 'set', key: 'k', version: elsewhere, encoded: '"theirs"', value: 'theirs' }])
    await cache.set('k', 'mine again')
    await cache.set('other', 1)
    const flushing = cache.flush()
    assert.ok(await settleOn(flushing, clock))
    const report = await flushing
    assert.deepEqual(
      report.superseded.map((w) => [w.key, w.storeVersion]),
      [['k', elsewhere]],
    )
    assert.equal(await cache.get('k'), 'theirs', 'the superseded value is not served')
    assert.equal(store.snapshot().get('other'), 1)
    await cache.set('k', 'latest')
    assert.ok(await settleOn(cache.flush(), clock))
    assert.equal(store.snapshot().get('k'), 'latest', 'later writes get versions above the one learnt')
    await cache.close()
  })
})

describe('10.2 a dead letter that a newer write supersedes', () => {
  const isPoison = (op: StoreOp): boolean => op.kind === 'set' && op.value === 'poison'

  async function deadLetterPoison(cache: Awaited<ReturnType<typeof openTestCache>>['cache'], clock: FakeClock): Promise<void> {
    await cache.set('k', 'poison')
    await cache.set('witness', 1) // proves the store takes other writes
    assert.ok(await settleOn(cache.flush(), clock))
    assert.deepEqual(
      cache.deadLetters().map((l) => l.key),
      ['k'],
    )
  }

  for (const newer of ['set', 'delete'] as const) {
    it(`a newer ${newer} lands: the letter leaves the queue and a restart does not bring the poison back`, async () => {
      await withDir(async (dir) => {
        const store = new PoisonStore(new MemoryStore(), { isPoison })
        const clock = new FakeClock()
        const first = await openTestCache(store, { dir, clock })
        await deadLetterPoison(first.cache, clock)
        if (newer === 'set') await first.cache.set('k', 'good')
        else await first.cache.delete('k')
        assert.ok(await settleOn(first.cache.flush(), clock))
        assert.equal(first.cache.deadLetters().length, 0, 'the newer write retired the letter')
        const report = await first.cache.close()
        assert.equal(report.deadLetters, 0)
        const { cache } = await openTestCache(store, { dir, clock })
        assert.equal(await cache.get('k'), newer === 'set' ? 'good' : undefined)
        assert.equal(cache.deadLetters().length, 0)
        await cache.close()
      })
    })
  }

  it('at open, a letter is not served when the store holds a newer version', async () => {
    await withDir(async (dir) => {
      const inner = new MemoryStore()
      const store = new PoisonStore(inner, { isPoison })
      const clock = new FakeClock()
      const first = await openTestCache(store, { dir, clock })
      await deadLetterPoison(first.cache, clock)
      await first.cache.close()
      await inner.writeBatch([{ kind: 'set', key: 'k', version: Number.MAX_SAFE_INTEGER - 1, encoded: '"from elsewhere"', value: 'from elsewhere' }])
      const { cache } = await openTestCache(store, { dir, clock })
      assert.equal(await cache.get('k'), 'from elsewhere')
      assert.equal(cache.deadLetters().length, 0, 'the superseded letter left the queue')
      await cache.close()
    })
  })

  it('dropping a letter stops serving its value; the store value is read', async () => {
    const inner = new MemoryStore()
    const store = new PoisonStore(inner, { isPoison })
    const { cache, clock } = await openTestCache(store)
    await cache.set('k', 'old')
    assert.ok(await settleOn(cache.flush(), clock))
    await deadLetterPoison(cache, clock)
    assert.equal(await cache.get('k'), 'poison', 'a dead letter is served while it is in the queue')
    assert.equal(await cache.dropDeadLetters(), 1)
    assert.equal(await cache.get('k'), 'old', 'after the drop the cache reads the store')
    await cache.close()
  })

  it('replaying a letter the store has superseded does not resurrect its value', async () => {
    const inner = new MemoryStore()
    let fixed = false
    const store = new PoisonStore(inner, { isPoison: (op) => !fixed && isPoison(op) })
    const { cache, clock } = await openTestCache(store)
    await deadLetterPoison(cache, clock)
    await inner.writeBatch([{ kind: 'set', key: 'k', version: Number.MAX_SAFE_INTEGER - 1, encoded: '"newer"', value: 'newer' }])
    fixed = true
    const replay = await cache.replayDeadLetters()
    assert.equal(replay.replayed, 1)
    assert.equal(cache.deadLetters().length, 0)
    assert.equal(await cache.get('k'), 'newer')
    assert.equal(inner.snapshot().get('k'), 'newer')
    await cache.close()
  })
})

describe('10.6 a store that refuses every write alike (a missing table, a missing privilege)', () => {
  it('dead-letters nothing, opens the circuit, keeps the writes, and they land once the cause is fixed', async () => {
    const inner = new MemoryStore()
    const store = new RefusingStore(inner)
    const { cache, clock } = await openTestCache(store, { flush: { batchSize: 10, intervalMs: 100 } })
    for (let i = 0; i < 40; i++) await cache.set(`k${i}`, i)
    const flushing = cache.flush()
    assert.equal(await settleOn(flushing, clock, 100, 600), false, 'flush() waits: nothing is in the store yet')
    assert.equal(cache.deadLetters().length, 0, 'nothing was dead-lettered')
    assert.equal(cache.stats().circuit, 'open')
    assert.equal(cache.stats().backlog.entries, 40, 'the writes are kept and counted')
    assert.ok(store.pings > 0, 'the circuit pinged, and a ping that answers did not count as proof')
    store.refusing = false
    assert.ok(await settleOn(flushing, clock, 100, 20_000), 'the writes land by themselves once the store takes them')
    assert.equal(inner.snapshot().size, 40)
    assert.equal((await flushing).deadLettered.length, 0)
    await cache.close()
  })

  it('close() is not "drained" while the store refuses; a restart with the cause fixed lands everything', async () => {
    await withDir(async (dir) => {
      const inner = new MemoryStore()
      const store = new RefusingStore(inner)
      const clock = new FakeClock()
      const first = await openTestCache(store, { dir, clock, closeTimeoutMs: 5_000 })
      for (let i = 0; i < 20; i++) await first.cache.set(`k${i}`, i)
      const closing = first.cache.close()
      assert.ok(await settleOn(closing, clock, 100))
      const report = await closing
      assert.equal(report.drained, false)
      assert.equal(report.unflushed, 20)
      assert.equal(report.deadLetters, 0)
      assert.equal(report.safeInLog, true)
      store.refusing = false
      const { cache } = await openTestCache(store, { dir, clock })
      assert.ok(await settleOn(cache.flush(), clock))
      assert.equal(inner.snapshot().size, 20)
      assert.equal(cache.deadLetters().length, 0)
      await cache.close()
    })
  })

  it('a lone poison write is held until other writes land, then it alone is dead-lettered', async () => {
    const inner = new MemoryStore()
    const store = new PoisonStore(inner, { isPoison: (op) => op.kind === 'set' && op.value === 'poison' })
    const { cache, clock } = await openTestCache(store, { flush: { concurrency: 1 } })
    await cache.set('p', 'poison')
    const flushing = cache.flush()
    assert.equal(await settleOn(flushing, clock, 100, 1200), false, 'no proof yet: held, not dead-lettered')
    assert.equal(cache.deadLetters().length, 0)
    assert.equal(cache.stats().backlog.entries, 1)
    await cache.set('good', 1)
    assert.ok(await settleOn(flushing, clock, 100, 20_000))
    assert.ok(await settleOn(cache.flush(), clock, 100, 20_000))
    assert.equal(inner.snapshot().get('good'), 1, 'fresh traffic flowed past the held write')
    assert.deepEqual(
      cache.deadLetters().map((l) => l.key),
      ['p'],
    )
    assert.equal((await cache.close()).deadLetters, 1)
  })
})

describe('10.6 poison writes bisected out of a batch whose good write landed', () => {
  it('are dead-lettered with no later traffic: the proof from the bisection survives their regrouping', async () => {
    const inner = new MemoryStore()
    const store = new PoisonStore(inner, { isPoison: (op) => op.key.startsWith('bad') })
    const { cache, clock } = await openTestCache(store)
    await cache.set('bad:1', 1)
    await cache.set('bad:2', 2)
    await cache.set('good', 3)
    assert.ok(await settleOn(cache.flush(), clock, 1000, 600), 'flush settles without further writes')
    assert.equal(inner.snapshot().get('good'), 3)
    assert.deepEqual(
      cache
        .deadLetters()
        .map((l) => l.key)
        .sort(),
      ['bad:1', 'bad:2'],
    )
    assert.equal(cache.stats().backlog.entries, 0)
    await cache.close()
  })
})

describe('10.6 a held write and a newer write of its key', () => {
  it('the newer write replaces the held one (as coalescing would) and lands; nothing is dead-lettered', async () => {
    const inner = new MemoryStore()
    const store = new PoisonStore(inner, { isPoison: (op) => op.kind === 'set' && op.value === 'poison' })
    const { cache, clock } = await openTestCache(store)
    await cache.set('k', 'poison')
    assert.equal(await settleOn(cache.flush(), clock, 100, 300), false, 'a lone poison write is held')
    await cache.set('k', 'good')
    assert.ok(await settleOn(cache.flush(), clock, 100, 20_000))
    assert.equal(inner.snapshot().get('k'), 'good')
    assert.equal(await cache.get('k'), 'good')
    assert.equal(cache.deadLetters().length, 0)
    assert.equal(cache.stats().backlog.entries, 0)
    await cache.close()
  })
})

describe('10.6 replay of a letter that still fails', () => {
  it('puts it back in the queue at once: it was dead-lettered with proof already', async () => {
    const inner = new MemoryStore()
    const store = new PoisonStore(inner, { isPoison: (op) => op.kind === 'set' && op.value === 'poison' })
    const { cache, clock } = await openTestCache(store)
    await cache.set('p', 'poison')
    await cache.set('witness', 1)
    assert.ok(await settleOn(cache.flush(), clock))
    const replaying = cache.replayDeadLetters()
    assert.ok(await settleOn(replaying, clock), 'replay does not wait for new proof')
    assert.deepEqual(await replaying, { replayed: 0, superseded: 0, failed: 1, busy: 0 })
    assert.deepEqual(
      cache.deadLetters().map((l) => l.key),
      ['p'],
    )
    await cache.close()
  })
})

describe('10.8 every promise settles', () => {
  it('a black-holed store: close() settles a pending write-through and flush() with typed errors', async () => {
    const inner = new MemoryStore()
    const store = new BlackHoleStore(inner)
    const { cache, clock } = await openTestCache(store, { closeTimeoutMs: 2_000 })
    const write = cache.set('k', 1, { durability: 'store' })
    const flushing = cache.flush()
    const outcomes: unknown[] = []
    write.catch((e: unknown) => outcomes.push(e))
    flushing.catch((e: unknown) => outcomes.push(e))
    await clock.advance(500)
    const closing = cache.close()
    assert.ok(await settleOn(closing, clock))
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(outcomes.length, 2, 'both promises settled by the time close() resolved')
    for (const e of outcomes) assert.ok(e instanceof CacheClosedError, String(e))
    assert.equal((await closing).drained, false)
    assert.equal(cache.stats().backlog.entries, 1, 'the write left unsettled is still counted')
  })

  it('a store batch times out (flush.batchTimeoutMs) and is retried, so a black hole does not stall flushing', async () => {
    const inner = new MemoryStore()
    const store = new BlackHoleStore(inner)
    const { cache, clock } = await openTestCache(store, { flush: { batchTimeoutMs: 1_000 } })
    await cache.set('k', 1)
    const flushing = cache.flush()
    await clock.advance(600)
    assert.equal(store.swallowed, 1)
    store.swallowing = false
    assert.ok(await settleOn(flushing, clock))
    assert.equal(inner.snapshot().get('k'), 1)
    assert.ok(cache.stats().flush.failedBatches >= 1)
    await cache.close()
  })

  it('flush({ timeoutMs }) and flush({ signal }) reject with FlushTimeoutError and lose nothing', async () => {
    const inner = new MemoryStore()
    const store = new BlackHoleStore(inner)
    const { cache, clock } = await openTestCache(store, { flush: { batchTimeoutMs: 60_000 } })
    await cache.set('k', 1)
    const timed = cache.flush({ timeoutMs: 1_000 })
    assert.ok(await settleOn(timed, clock))
    await assert.rejects(timed, (e: unknown) => e instanceof FlushTimeoutError && e.code === 'E_FLUSH_TIMEOUT' && e.unflushed === 1)
    const controller = new AbortController()
    const aborted = cache.flush({ signal: controller.signal })
    controller.abort()
    await assert.rejects(aborted, (e: unknown) => e instanceof FlushTimeoutError && e.code === 'E_FLUSH_ABORTED')
    await assert.rejects(cache.flush({ signal: controller.signal }), { code: 'E_FLUSH_ABORTED' })
    await assert.rejects(cache.flush({ timeoutMs: -1 }), TypeError)
    store.swallowing = false
    assert.ok(await settleOn(cache.flush(), clock, 1_000))
    assert.equal(inner.snapshot().get('k'), 1, 'the write landed after all')
    await cache.close()
  })

  it('a dead-letter write that fails holds the poison write; the good write of the same flight lands', async () => {
    const inner = new MemoryStore()
    const store = new PoisonStore(inner, { isPoison: (op) => op.kind === 'set' && op.value === 'poison' })
    const { cache, clock } = await openTestCache(store)
    // The dead-letter queue fails as a full disk would: it accepts no more letters.
    await (cache as unknown as { engine: { dlq: { close(): Promise<void> } } }).engine.dlq.close()
    const warnings: string[] = []
    cache.on('warning', ({ code }) => warnings.push(code))
    await cache.set('p', 'poison')
    await cache.set('good', 1)
    const flushing = cache.flush({ timeoutMs: 10_000 })
    assert.ok(await settleOn(flushing, clock))
    await assert.rejects(flushing, { code: 'E_FLUSH_TIMEOUT' })
    assert.equal(inner.snapshot().get('good'), 1, 'the good write of the flight landed')
    assert.equal(cache.stats().backlog.entries, 1, 'the held poison write is still counted')
    assert.ok(warnings.includes('WB_FLUSH_INTERNAL'))
    const closing = cache.close()
    assert.ok(await settleOn(closing, clock, 1_000))
    assert.equal((await closing).drained, false)
  })
})
