/**
 * The seam between the flush pipeline and a tier (`src/flush/dirty-tier.ts`), tried with a second
 * tier that is not the embedded one: its dirty set lives in a map that stands for a remote server,
 * it claims keys asynchronously (as a Redis tier would, one round trip per claim) and acknowledges
 * by compare-and-swap on the version. The real scheduler, flusher and circuit drive it into a real
 * MemoryStore, unchanged. Then the pieces the engine wires, built alone: write-through waiters and
 * backpressure; and dead-letter replay going through the scheduler like any flush.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { BatchResult, StoreOp } from '../../src/contracts/store.js'
import { Backpressure } from '../../src/core/backpressure.js'
import { CircuitBreaker } from '../../src/flush/circuit.js'
import type { DirtyTier } from '../../src/flush/dirty-tier.js'
import { Flusher } from '../../src/flush/flusher.js'
import type { FlusherHooks } from '../../src/flush/flusher-hooks.js'
import { opFromRecord, type PendingOp } from '../../src/flush/pending-op.js'
import { FlushScheduler } from '../../src/flush/scheduler.js'
import { WriteThroughs } from '../../src/flush/write-throughs.js'
import { MemoryStore } from '../../src/stores/memory-store.js'
import { strictJson } from '../../src/core/json-codec.js'
import { FakeClock } from '../../src/testing/fake-clock.js'
import { openTestCache } from '../helpers/open.js'
import { PoisonStore } from '../helpers/faulty-stores.js'

interface Row {
  encoded: string | null
  version: number
  /** Clock time of the first unflushed write; 0 when clean. */
  dirtySince: number
}

/** A tier whose state lives "elsewhere": every claim is asynchronous, every ack a version CAS. */
class RemoteTier implements DirtyTier {
  readonly rows = new Map<string, Row>()
  private version = 0
  claims = 0
  claimsOut = 0
  mostClaimsOut = 0
  busyKeysTaken = 0
  readonly outcomes = new Map<string, number>()

  constructor(private readonly clock: FakeClock) {}

  write(key: string, encoded: string | null): number {
    const row = this.rows.get(key)
    const version = ++this.version
    if (row === undefined) this.rows.set(key, { encoded, version, dirtySince: this.clock.now() })
    else Object.assign(row, { encoded, version, dirtySince: row.dirtySince || this.clock.now() })
    return version
  }

  private dirty(): Array<[string, Row]> {
    return [...this.rows].filter(([, row]) => row.dirtySince !== 0).sort((a, b) => a[1].dirtySince - b[1].dirtySince)
  }

  get waiting(): number {
    return this.dirty().length
  }

  get waitingBytes(): number {
    return this.dirty().reduce((n, [key, row]) => n + key.length + (row.encoded?.length ?? 0), 0)
  }

  get highestVersion(): number {
    return this.version
  }

  lowestWaiting(): number | undefined {
    const versions = this.dirty().map(([, row]) => row.version)
    return versions.length === 0 ? undefined : Math.min(...versions)
  }

  oldestWaiting(): number | undefined {
    return this.dirty()[0]?.[1].dirtySince
  }

  async take(max: number, busy: ReadonlySet<string>): Promise<PendingOp[]> {
    this.claims++
    this.mostClaimsOut = Math.max(this.mostClaimsOut, ++this.claimsOut)
    await new Promise<void>((resolve) => setImmediate(resolve)) // the round trip
    this.claimsOut--
    const ops: PendingOp[] = []
    for (const [key, row] of this.dirty()) {
      if (ops.length >= max) break
      if (busy.has(key)) continue
      const op = opFromRecord(key, row.version, row.encoded, row.dirtySince, strictJson)
      op.entry = row
      row.dirtySince = 0 // claimed: a rewrite makes it dirty again (and then it is not clean by CAS)
      ops.push(op)
    }
    for (const op of ops) if (busy.has(op.key)) this.busyKeysTaken++
    return ops
  }

  applied(op: PendingOp): void {
    this.outcomes.set(`${op.key}@${op.version}`, (this.outcomes.get(`${op.key}@${op.version}`) ?? 0) + 1)
  }

  superseded(op: PendingOp): void {
    this.applied(op)
  }

  deadLettered(op: PendingOp): void {
    this.applied(op)
  }

  settledThrough(): void {}
  tick(): void {}
}

function pipeline(tier: DirtyTier, store: MemoryStore, clock: FakeClock, batchSize: number): { scheduler: FlushScheduler; flusher: Flusher } {
  const circuit = new CircuitBreaker({ threshold: 5, baseDelayMs: 10, maxDelayMs: 100 }, clock)
  const late: { scheduler?: FlushScheduler } = {}
  const hooks: FlusherHooks = {
    applied: (op) => tier.applied(op),
    superseded: (op, v) => tier.superseded(op, v),
    landed: () => undefined,
    deadLetter: async (ops) => ops.forEach((op) => tier.deadLettered(op)),
    flightEnded: () => late.scheduler?.flightEnded(),
    slotFreed: () => late.scheduler?.pump(),
    batchDone: () => {},
    batchFailed: () => {},
    internalError: (error) => assert.fail(error),
  }
  const flusher = new Flusher(store, { baseDelayMs: 10, maxDelayMs: 100, maxAttempts: 3, batchTimeoutMs: 1000 }, circuit, clock, hooks)
  const scheduler = (late.scheduler = new FlushScheduler(
    { intervalMs: 100, batchSize, maxDelayMs: 1000, concurrency: 2, batchTimeoutMs: 1000, triggerEntries: batchSize, order: 'key' },
    tier,
    flusher,
    new Map(),
    clock,
  ))
  return { scheduler, flusher }
}

describe('the flush pipeline over a second, asynchronous tier', () => {
  it('flushes every latest value once per claim, never takes a busy key, never claims twice at once', async () => {
    const clock = new FakeClock()
    const tier = new RemoteTier(clock)
    const store = new MemoryStore()
    const { scheduler } = pipeline(tier, store, clock, 7)
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 40; i++) tier.write(`k${(i * 7 + round) % 25}`, JSON.stringify({ round, i }))
      scheduler.afterWrite()
      await clock.advance(30)
    }
    const flushed = scheduler.flushAll()
    await clock.runAll()
    await flushed
    assert.equal(tier.waiting, 0, 'dirty reaches zero')
    assert.ok(tier.claims > 1)
    assert.equal(tier.mostClaimsOut, 1, 'one claim out at a time')
    assert.equal(tier.busyKeysTaken, 0)
    const stored = store.snapshot()
    for (const [key, row] of tier.rows) assert.equal(JSON.stringify(stored.get(key)), row.encoded, `${key} holds its latest value`)
    for (const [op, count] of tier.outcomes) assert.equal(count, 1, `${op} settled once`)
    assert.equal(scheduler.lowWater(), tier.highestVersion)
  })
})

describe('write-through waiters, alone', () => {
  it('resolve at or below the applied version, reject with the version each waited for, and leave newer ones waiting', async () => {
    const w = new WriteThroughs()
    const settled: string[] = []
    const track = (p: Promise<void>, name: string): Promise<void> =>
      p.then(
        () => void settled.push(`${name} ok`),
        (e: Error) => void settled.push(`${name} ${e.message}`),
      )
    const a = track(w.wait('k', 5), 'a5')
    const b = track(w.wait('k', 7), 'b7')
    const c = track(w.wait('k', 9), 'c9')
    assert.deepEqual([...w.urgent.keys()], ['k'])
    w.applied('k', 7)
    w.failed('k', 9, (v) => new Error(`lost ${v}`))
    await Promise.all([a, b, c])
    assert.deepEqual(settled, ['a5 ok', 'b7 ok', 'c9 lost 9'])
    assert.equal(w.urgent.size, 0)
  })
})

describe('backpressure, alone', () => {
  it('admits waiting writes in order as room is made, and counts the high-water mark', async () => {
    let entries = 3
    const full: number[] = []
    const bp = new Backpressure({ entries: () => entries, bytes: () => 0 }, { maxEntries: 3, maxBytes: Infinity, maxWaiting: 2, whenFull: 'wait' }, (e) => full.push(e))
    assert.equal(bp.canApplyNow(), false)
    bp.noteFull()
    bp.noteFull()
    assert.deepEqual(full, [3], 'one backlog:full per episode')
    const order: string[] = []
    // An admitted write joins the backlog at once, as the tier's write does, and the facade notes it.
    const admit = (name: string) => async (): Promise<void> => {
      bp.noteWaiting(++entries)
      order.push(name)
    }
    const first = bp.enqueue(admit('first'), 10)
    const second = bp.enqueue(admit('second'), 10)
    assert.equal(bp.hasRoomFor(10), false, 'maxWaiting reached')
    entries = 2
    bp.roomMade()
    await first
    assert.deepEqual(order, ['first'], 'one slot of room admits one write')
    entries = 1
    bp.roomMade()
    await second
    assert.deepEqual(order, ['first', 'second'])
    assert.equal(bp.highWaterEntries, 3)
  })
})

/** Records the largest batch and the most calls in flight at once. */
class RecordingStore extends MemoryStore {
  biggest = 0
  inFlight = 0
  mostInFlight = 0
  recording = false

  override async writeBatch(ops: readonly StoreOp[]): Promise<BatchResult> {
    if (this.recording) {
      this.biggest = Math.max(this.biggest, ops.length)
      this.mostInFlight = Math.max(this.mostInFlight, ++this.inFlight)
    }
    try {
      await new Promise<void>((resolve) => setImmediate(resolve))
      return await super.writeBatch(ops)
    } finally {
      if (this.recording) this.inFlight--
    }
  }
}

describe('dead-letter replay', () => {
  it('goes through the scheduler: batches of at most batchSize, within flush.concurrency', async () => {
    const inner = new RecordingStore()
    let fixed = false
    const store = new PoisonStore(inner, { isPoison: (op) => !fixed && op.kind === 'set' && op.value === 'bad', mode: 'per-op' })
    const { cache, clock } = await openTestCache(store, { flush: { batchSize: 3, concurrency: 1, intervalMs: 50 } })
    for (let i = 0; i < 10; i++) await cache.set(`bad:${i}`, 'bad')
    for (let i = 0; i < 10; i++) await cache.set(`good:${i}`, 'good')
    const flushed = cache.flush()
    await clock.runAll()
    await flushed
    assert.equal(cache.deadLetters().length, 10)
    fixed = true
    inner.recording = true
    const replaying = cache.replayDeadLetters()
    await clock.runAll()
    assert.deepEqual(await replaying, { replayed: 10, superseded: 0, failed: 0, busy: 0 })
    assert.equal(inner.biggest, 3, 'no replay batch is larger than flush.batchSize')
    assert.equal(inner.mostInFlight, 1, 'replay keeps to flush.concurrency')
    assert.equal(cache.deadLetters().length, 0)
    await cache.close()
  })
})
