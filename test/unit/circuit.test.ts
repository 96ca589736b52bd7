// Circuit breaker: opens on consecutive retryable failures only, one probe at a time once the
// backed-off probe time is reached, closes on success. Time moves with a FakeClock.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { CircuitBreaker, type CircuitOptions } from '../../src/flush/circuit.js'
import { StoreError } from '../../src/errors.js'
import { FakeClock } from '../../src/testing/fake-clock.js'
import { seededRandom } from '../helpers/seeded-random.js'

const outage = () => new StoreError('connection refused', { retryable: true })
const poison = () => new StoreError('value too long for column', { retryable: false })

function setup(options: Partial<CircuitOptions> = {}, random: () => number = () => 0.5) {
  const clock = new FakeClock()
  const opened: { error: Error; failures: number }[] = []
  const closed: { openForMs: number }[] = []
  const breaker = new CircuitBreaker(
    {
      threshold: 3,
      baseDelayMs: 1_000,
      maxDelayMs: 8_000,
      onOpen: (event) => opened.push(event),
      onClose: (event) => closed.push(event),
      ...options,
    },
    clock,
    random,
  )
  return { clock, breaker, opened, closed }
}

function failTimes(breaker: CircuitBreaker, n: number, error: () => unknown = outage): void {
  for (let i = 0; i < n; i++) breaker.recordFailure(error())
}

describe('CircuitBreaker', () => {
  it('starts closed and lets every batch through', () => {
    const { breaker } = setup()
    assert.equal(breaker.state, 'closed')
    assert.equal(breaker.nextProbeAt, undefined)
    for (let i = 0; i < 5; i++) assert.equal(breaker.canFlush(), true)
  })

  it('opens after exactly `threshold` consecutive retryable failures', () => {
    const { breaker, opened } = setup()
    failTimes(breaker, 2)
    assert.equal(breaker.state, 'closed')
    assert.equal(opened.length, 0)
    const last = outage()
    breaker.recordFailure(last)
    assert.equal(breaker.state, 'open')
    assert.equal(breaker.canFlush(), false)
    assert.deepEqual(opened, [{ error: last, failures: 3 }])
  })

  it('a success in between resets the count', () => {
    const { breaker } = setup()
    failTimes(breaker, 2)
    breaker.recordSuccess()
    failTimes(breaker, 2)
    assert.equal(breaker.state, 'closed')
    assert.equal(breaker.failures, 2)
  })

  it('never opens on permanent errors: a poison row is not an outage', () => {
    const { breaker, opened } = setup()
    failTimes(breaker, 50, poison)
    failTimes(breaker, 10, () => new TypeError('bad data'))
    assert.equal(breaker.state, 'closed')
    assert.equal(breaker.failures, 0)
    assert.equal(opened.length, 0)
  })

  it('treats a permanent error as a sign of life: it ends a failure streak', () => {
    const { breaker } = setup()
    failTimes(breaker, 2)
    breaker.recordFailure(poison())
    failTimes(breaker, 2)
    assert.equal(breaker.state, 'closed')
    assert.equal(breaker.failures, 2)
    breaker.recordFailure(outage())
    assert.equal(breaker.state, 'open')
  })

  it('classifies through the cause chain', () => {
    const { breaker } = setup()
    failTimes(breaker, 5, () => new Error('batch failed', { cause: poison() }))
    assert.equal(breaker.state, 'closed')
  })

  it('schedules the first probe within [base/2, base] and lets one probe through when due', async () => {
    const { clock, breaker } = setup()
    const openedAt = clock.now()
    failTimes(breaker, 3)
    assert.equal(breaker.nextProbeAt, openedAt + 750) // 500 fixed + 0.5 * 500 jitter
    await clock.advance(749)
    assert.equal(breaker.canFlush(), false)
    await clock.advance(1)
    assert.equal(breaker.canFlush(), true, 'the probe')
    assert.equal(breaker.probing, true)
    assert.equal(breaker.canFlush(), false, 'only one probe at a time')
    await clock.advance(60_000)
    assert.equal(breaker.canFlush(), false, 'still one probe until its result is recorded')
  })

  it('backs off probes exponentially up to the cap while failures go on', async () => {
    const { clock, breaker } = setup({}, () => 0.999999)
    failTimes(breaker, 3)
    const gaps: number[] = []
    for (let i = 0; i < 6; i++) {
      const due = breaker.nextProbeAt!
      gaps.push(due - clock.now())
      await clock.advance(due - clock.now())
      assert.equal(breaker.canFlush(), true)
      breaker.recordFailure(outage())
    }
    assert.deepEqual(gaps, [999, 1999, 3999, 7999, 7999, 7999])
    assert.equal(breaker.state, 'open')
  })

  it('jitters probe delays from the random source, deterministically with a seed', async () => {
    const delays = async (seed: number) => {
      const { clock, breaker } = setup({ threshold: 1, baseDelayMs: 10_000, maxDelayMs: 10_000 }, seededRandom(seed))
      const result: number[] = []
      breaker.recordFailure(outage())
      for (let i = 0; i < 8; i++) {
        const wait = breaker.nextProbeAt! - clock.now()
        result.push(wait)
        await clock.advance(wait)
        assert.equal(breaker.canFlush(), true)
        breaker.recordFailure(outage())
      }
      return result
    }
    const a = await delays(1)
    assert.deepEqual(a, await delays(1))
    assert.notDeepEqual(a, await delays(2))
    for (const d of a) assert.ok(d >= 5_000 && d <= 10_000, `delay ${d} within [bound/2, bound]`)
    assert.ok(new Set(a).size > 1, 'the jitter varies')
  })

  it('closes on a successful probe and reports how long it was open', async () => {
    const { clock, breaker, closed } = setup()
    failTimes(breaker, 3)
    await clock.advance(750)
    assert.equal(breaker.canFlush(), true)
    breaker.recordFailure(outage())
    await clock.advance(breaker.nextProbeAt! - clock.now())
    assert.equal(breaker.canFlush(), true)
    breaker.recordSuccess()
    assert.equal(breaker.state, 'closed')
    assert.equal(breaker.nextProbeAt, undefined)
    assert.equal(breaker.failures, 0)
    assert.deepEqual(closed, [{ openForMs: 750 + 1_500 }])
    assert.equal(breaker.canFlush(), true)
    assert.equal(breaker.canFlush(), true, 'closed again: no probe limit')
  })

  it('a permanent error on the probe closes the circuit: the store answered', async () => {
    const { clock, breaker, closed } = setup()
    failTimes(breaker, 3)
    await clock.advance(750)
    assert.equal(breaker.canFlush(), true)
    breaker.recordFailure(poison())
    assert.equal(breaker.state, 'closed')
    assert.deepEqual(closed, [{ openForMs: 750 }])
    assert.equal(breaker.canFlush(), true)
    assert.equal(breaker.canFlush(), true, 'the bisection of the poison batch can go on at full speed')
  })

  it('a late failure of a batch sent before opening does not move the probe', () => {
    const { breaker } = setup()
    failTimes(breaker, 3)
    const due = breaker.nextProbeAt
    breaker.recordFailure(outage())
    assert.equal(breaker.nextProbeAt, due)
    assert.equal(breaker.failures, 4)
  })

  it('reopens with a fresh backoff after closing', async () => {
    const { clock, breaker, opened, closed } = setup()
    failTimes(breaker, 3)
    await clock.advance(750)
    assert.equal(breaker.canFlush(), true)
    breaker.recordFailure(outage())
    await clock.advance(1_500)
    assert.equal(breaker.canFlush(), true)
    breaker.recordSuccess()
    failTimes(breaker, 3)
    assert.equal(breaker.nextProbeAt! - clock.now(), 750, 'backoff restarts at the base')
    assert.equal(opened.length, 2)
    assert.equal(closed.length, 1)
  })

  it('wraps a non-Error failure for the onOpen event', () => {
    const { breaker, opened } = setup({ threshold: 1 })
    breaker.recordFailure('socket hang up')
    assert.ok(opened[0]!.error instanceof Error)
    assert.equal(opened[0]!.error.message, 'socket hang up')
  })

  it('rejects bad options with a TypeError naming them', () => {
    const clock = new FakeClock()
    const ok = { threshold: 3, baseDelayMs: 100, maxDelayMs: 1000 }
    assert.throws(() => new CircuitBreaker({ ...ok, threshold: 0 }, clock), { name: 'TypeError', message: /threshold/ })
    assert.throws(() => new CircuitBreaker({ ...ok, threshold: 2.5 }, clock), { name: 'TypeError', message: /threshold/ })
    assert.throws(() => new CircuitBreaker({ ...ok, baseDelayMs: -5 }, clock), { name: 'TypeError', message: /baseDelayMs/ })
    assert.throws(() => new CircuitBreaker({ ...ok, maxDelayMs: Infinity }, clock), { name: 'TypeError', message: /maxDelayMs/ })
  })
})
