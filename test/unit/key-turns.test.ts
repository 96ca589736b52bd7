// The per-key building blocks of update() and getOrSet(), built alone: turns per key, single
// flights, write watches; each leaves nothing behind once idle.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { KeyChain } from '../../src/core/key-chain.js'
import { SingleFlight } from '../../src/core/single-flight.js'
import { WriteWatch } from '../../src/core/write-watch.js'
import { settle } from '../../src/testing/fake-clock.js'

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((resolve) => (open = resolve))
  return { promise, open }
}

describe('KeyChain', () => {
  it('runs the tasks of one key one at a time, in call order, and a failure does not block the next', async () => {
    const chain = new KeyChain()
    const log: string[] = []
    const first = gate()
    const a = chain.run('k', async () => {
      log.push('a start')
      await first.promise
      log.push('a end')
      throw new Error('a failed')
    })
    const b = chain.run('k', async () => {
      log.push('b')
      return 2
    })
    const other = chain.run('other', async () => {
      log.push('other')
      return 3
    })
    assert.equal(await other, 3, 'another key does not wait')
    await settle()
    assert.deepEqual(log, ['a start', 'other'])
    first.open()
    await assert.rejects(a, /a failed/)
    assert.equal(await b, 2)
    assert.deepEqual(log, ['a start', 'other', 'a end', 'b'])
    await settle()
    assert.equal(chain.size, 0, 'idle keys leave the chain')
  })
})

describe('SingleFlight', () => {
  it('shares one running task per key, forgets it once settled, and never caches a failure', async () => {
    const flights = new SingleFlight()
    let calls = 0
    const held = gate()
    const task = async (): Promise<number> => {
      calls++
      await held.promise
      if (calls === 1) throw new Error('first fails')
      return calls
    }
    const joined = [flights.run('k', task), flights.run('k', task)]
    assert.equal(flights.size, 1)
    held.open()
    for (const p of joined) await assert.rejects(p, /first fails/)
    assert.equal(calls, 1)
    await settle()
    assert.equal(flights.size, 0)
    assert.equal(await flights.run('k', task), 2, 'a new call runs the task again')
    await settle()
    assert.equal(flights.size, 0)
  })
})

describe('WriteWatch', () => {
  it('sees writes of its key made after it started, not before nor of other keys, and forgets stopped keys', () => {
    const watch = new WriteWatch()
    watch.noteWrite('k')
    const a = watch.start('k')
    watch.noteWrite('other')
    assert.equal(watch.moved(a), false)
    const b = watch.start('k')
    watch.noteWrite('k')
    assert.equal(watch.moved(a), true)
    assert.equal(watch.moved(b), true)
    const c = watch.start('k')
    assert.equal(watch.moved(c), false)
    for (const w of [a, b, c]) watch.stop(w)
    assert.equal(watch.size, 0)
  })
})
