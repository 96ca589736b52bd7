// The fault-injecting test stores do what they claim: the right errors (retryable or not), at the
// right times, applying or not applying the batch, and counting what they saw.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { StoreOp } from '../../src/contracts/store.js'
import { MemoryStore } from '../../src/stores/memory-store.js'
import { StoreError } from '../../src/errors.js'
import { isRetryable } from '../../src/flush/retry.js'
import { FakeClock, settle } from '../../src/testing/fake-clock.js'
import { FlakyStore, GatedStore, OutageStore, PoisonStore, SlowStore } from '../helpers/faulty-stores.js'
import { seededRandom } from '../helpers/seeded-random.js'

/** A MemoryStore that also answers `ping`, to check that wrappers forward it. */
class PingableMemoryStore extends MemoryStore {
  pings = 0
  async ping(): Promise<void> {
    this.pings++
  }
}

const has = (store: MemoryStore, key: string) => store.versionOf(key) !== undefined
const keysIn = (store: MemoryStore) => [...store.snapshot().keys()]

let nextVersion = 1
function set(key: string, value: unknown = key): StoreOp {
  return { kind: 'set', key, version: nextVersion++, value, encoded: JSON.stringify(value) }
}
const batchOf = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => set(`${prefix}${i}`))

async function outcome(promise: Promise<unknown>): Promise<'ok' | StoreError> {
  try {
    await promise
    return 'ok'
  } catch (error) {
    assert.ok(error instanceof StoreError, `a StoreError, got ${String(error)}`)
    return error
  }
}

describe('FlakyStore', () => {
  async function run(seed: number, failRate: number, batches = 200) {
    const inner = new MemoryStore()
    const store = new FlakyStore(inner, { failRate, random: seededRandom(seed) })
    const results: { ops: StoreOp[]; result: 'ok' | StoreError }[] = []
    for (let i = 0; i < batches; i++) {
      const ops = batchOf(`s${seed}-b${i}-`, 3)
      results.push({ ops, result: await outcome(store.writeBatch(ops)) })
    }
    return { inner, store, results }
  }

  it('fails about failRate of the batches, all with retryable errors, and counts them', async () => {
    const { store, results } = await run(1, 0.3)
    const failed = results.filter((r) => r.result !== 'ok')
    assert.ok(failed.length > 30 && failed.length < 90, `~60 of 200 failed, got ${failed.length}`)
    for (const { result } of failed) {
      assert.equal(isRetryable(result), true)
      assert.equal((result as StoreError).code, 'E_FLAKY')
    }
    assert.deepEqual(store.counters, { calls: 200, failedCalls: failed.length, opsSeen: 600 })
  })

  it('sometimes applies a batch before failing it, and otherwise applies nothing of a failed batch', async () => {
    const { inner, store, results } = await run(2, 0.5)
    let appliedThenFailed = 0
    for (const { ops, result } of results) {
      const applied = ops.map((op) => has(inner, op.key))
      assert.ok(
        applied.every((a) => a === applied[0]),
        'a batch applies whole or not at all',
      )
      if (result === 'ok') assert.equal(applied[0], true)
      else if (applied[0]) appliedThenFailed++
    }
    assert.ok(appliedThenFailed > 0, 'some batches applied and then failed')
    assert.ok(appliedThenFailed < results.filter((r) => r.result !== 'ok').length, 'some failed without applying')
    assert.equal(store.appliedThenFailed, appliedThenFailed)
  })

  it('is reproducible with a seed, and honours failRate 0 and 1', async () => {
    const pattern = async (seed: number) => (await run(seed, 0.4, 50)).results.map((r) => r.result === 'ok')
    assert.deepEqual(await pattern(7), await pattern(7))
    assert.notDeepEqual(await pattern(7), await pattern(8))
    assert.equal((await run(3, 0, 30)).store.counters.failedCalls, 0)
    assert.equal((await run(3, 1, 30)).store.counters.failedCalls, 30)
  })
})

describe('PoisonStore', () => {
  const isPoison = (op: StoreOp) => op.kind === 'set' && op.encoded.includes('poison')

  it('fails a whole batch permanently when it holds a poison op, applying nothing', async () => {
    const inner = new MemoryStore()
    const store = new PoisonStore(inner, { isPoison })
    const ops = [set('a'), set('b', 'poison!'), set('c')]
    const result = await outcome(store.writeBatch(ops))
    assert.notEqual(result, 'ok')
    assert.equal(isRetryable(result), false)
    assert.match((result as StoreError).message, /"b"/)
    assert.equal(inner.snapshot().size, 0)
    assert.equal(await outcome(store.writeBatch([set('d')])), 'ok')
    assert.deepEqual(keysIn(inner), ['d'])
    assert.deepEqual(store.counters, { calls: 2, failedCalls: 1, opsSeen: 4 })
  })

  it('needs bisection to isolate the poison op, which then lands everything else', async () => {
    const inner = new MemoryStore()
    const store = new PoisonStore(inner, { isPoison })
    const ops = batchOf('k', 16)
    ops[11] = set('k11', 'poison')
    const dead: StoreOp[] = []
    const bisect = async (part: StoreOp[]): Promise<void> => {
      if ((await outcome(store.writeBatch(part))) === 'ok') return
      if (part.length === 1) return void dead.push(part[0]!)
      await bisect(part.slice(0, part.length / 2))
      await bisect(part.slice(part.length / 2))
    }
    await bisect(ops)
    assert.deepEqual(
      dead.map((op) => op.key),
      ['k11'],
    )
    assert.equal(inner.snapshot().size, 15)
    assert.equal(store.counters.failedCalls, 5, 'one failure per level: 16, 8, 4, 2, 1')
  })

  it('in per-op mode applies the good ops and reports the poison ones by index', async () => {
    const inner = new MemoryStore()
    const store = new PoisonStore(inner, { isPoison, mode: 'per-op' })
    const result = await store.writeBatch([set('a'), set('b', 'poison'), set('c'), set('d', 'poison too')])
    assert.deepEqual(
      result?.failures?.map((f) => f.index),
      [1, 3],
    )
    assert.equal(isRetryable(result?.failures?.[0]?.error), false)
    assert.deepEqual(keysIn(inner), ['a', 'c'])
    assert.equal(store.counters.failedCalls, 0, 'per-op failures are not a failed call')
  })
})

describe('OutageStore', () => {
  it('fails writes, loads and pings with a retryable error during the window only', async () => {
    const clock = new FakeClock(10_000)
    const inner = new PingableMemoryStore()
    const store = new OutageStore(inner, clock, { from: 11_000, to: 12_000 })
    assert.equal(await outcome(store.writeBatch([set('before')])), 'ok')
    await clock.advance(1_000)
    assert.equal(store.down, true)
    const failure = await outcome(store.writeBatch([set('during')]))
    assert.equal(isRetryable(failure), true)
    assert.equal((failure as StoreError).code, 'E_OUTAGE')
    await assert.rejects(store.load(['before']), { code: 'E_OUTAGE' })
    await assert.rejects(store.ping!(), { code: 'E_OUTAGE' })
    assert.equal(has(inner, 'during'), false)
    await clock.advance(999)
    assert.notEqual(await outcome(store.writeBatch([set('still')])), 'ok')
    await clock.advance(1)
    assert.equal(await outcome(store.writeBatch([set('after')])), 'ok')
    assert.equal((await store.load(['after'])).size, 1)
    await store.ping!()
    assert.equal(inner.pings, 1)
    assert.deepEqual(store.counters, { calls: 4, failedCalls: 2, opsSeen: 4 })
  })

  it('can move its window, and offers ping only when the inner store has one', async () => {
    const clock = new FakeClock(0)
    const store = new OutageStore(new MemoryStore(), clock, { from: 0, to: 100 })
    assert.equal(store.ping, undefined)
    assert.equal(store.down, true)
    store.setWindow({ from: 0, to: 0 })
    assert.equal(store.down, false)
    assert.equal(await outcome(store.writeBatch([set('x')])), 'ok')
  })
})

describe('SlowStore', () => {
  it('answers only after the delay on the fake clock', async () => {
    const clock = new FakeClock()
    const inner = new MemoryStore()
    const store = new SlowStore(inner, clock, 500)
    let done = false
    const write = store.writeBatch([set('slow')]).then(() => (done = true))
    await clock.advance(499)
    assert.equal(done, false)
    assert.equal(has(inner, 'slow'), false, 'not applied before the delay')
    await clock.advance(1)
    await write
    assert.equal(done, true)
    assert.equal(has(inner, 'slow'), true)
    const load = store.load(['slow'])
    await clock.advance(500)
    assert.equal((await load).size, 1)
    assert.deepEqual(store.counters, { calls: 1, failedCalls: 0, opsSeen: 1 })
  })
})

describe('GatedStore', () => {
  it('holds a batch in flight until released', async () => {
    const inner = new MemoryStore()
    const store = new GatedStore(inner)
    let settled = false
    const write = store.writeBatch([set('a'), set('b')]).then(() => (settled = true))
    const ops = await store.nextBatch()
    assert.deepEqual(
      ops.map((op) => op.key),
      ['a', 'b'],
    )
    await settle()
    assert.equal(settled, false)
    assert.equal(store.pending, 1)
    assert.equal(inner.snapshot().size, 0)
    await store.release()
    assert.equal(settled, true, 'the caller saw the result before release() resolved')
    await write
    assert.equal(inner.snapshot().size, 2)
    assert.equal(store.pending, 0)
  })

  it('fails a held batch, in arrival order, and counts it', async () => {
    const inner = new MemoryStore()
    const store = new GatedStore(inner)
    const first = outcome(store.writeBatch([set('first')]))
    const second = outcome(store.writeBatch([set('second')]))
    const nextOne = store.nextBatch()
    assert.deepEqual(
      (await nextOne).map((op) => op.key),
      ['first'],
    )
    assert.deepEqual(
      (await store.nextBatch()).map((op) => op.key),
      ['second'],
    )
    store.fail()
    const failure = await first
    assert.equal(isRetryable(failure), true)
    store.fail(new StoreError('bad', { retryable: false }))
    assert.equal(isRetryable(await second), false)
    assert.equal(inner.snapshot().size, 0)
    assert.deepEqual(store.counters, { calls: 2, failedCalls: 2, opsSeen: 2 })
    await assert.rejects(store.release(), /no batch is held/)
  })

  it('nextBatch waits for a batch that has not arrived yet; open() lets everything through', async () => {
    const inner = new MemoryStore()
    const store = new GatedStore(inner)
    const next = store.nextBatch()
    const write = store.writeBatch([set('late')])
    assert.deepEqual(
      (await next).map((op) => op.key),
      ['late'],
    )
    await store.open()
    await write
    await store.writeBatch([set('free')])
    assert.deepEqual(keysIn(inner), ['late', 'free'])
    assert.equal(store.pending, 0)
  })
})
