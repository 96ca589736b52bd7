// The lease keeper on mocked timers: a shard's lease is renewed while some key claimed under it is
// in a flight, and its timer stops (without renewing) once none is, whichever keys leave first.
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it, mock } from 'node:test'
import type { PendingOp } from '../../src/flush/pending-op.js'
import type { RedisClientPort, ScriptCall } from '../../src/tier/redis/client-port.js'
import { RedisLayout } from '../../src/tier/redis/layout.js'
import { LeaseKeeper } from '../../src/tier/redis/lease-keeper.js'

const LEASE = { token: 't', ms: 300 } // a tick every 100 ms

function setup(): { keeper: LeaseKeeper; layout: RedisLayout; inFlight: Set<string>; renewed: string[] } {
  const layout = new RedisLayout('lk', 4)
  const inFlight = new Set<string>()
  const renewed: string[] = []
  const port = {
    run: (call: ScriptCall) => {
      renewed.push(call.keys[0] as string)
      return Promise.resolve(1)
    },
  } as unknown as RedisClientPort
  return { keeper: new LeaseKeeper(port, layout, LEASE, inFlight), layout, inFlight, renewed }
}

/** Keys of `shard`, `count` of them. */
function keysOf(layout: RedisLayout, shard: number, count: number): string[] {
  const keys: string[] = []
  for (let i = 0; keys.length < count; i++) if (layout.shardOf(`k${i}`) === shard) keys.push(`k${i}`)
  return keys
}

const ops = (keys: readonly string[]): PendingOp[] => keys.map((key) => ({ key }) as PendingOp)

describe('LeaseKeeper', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setInterval'] }))
  afterEach(() => mock.timers.reset())

  it('renews a shard while any key of a claim is in a flight, and stops once none is', () => {
    const { keeper, layout, inFlight, renewed } = setup()
    const [a, b] = keysOf(layout, 1, 2) as [string, string]
    const lease = layout.lease(1)
    inFlight.add(a)
    inFlight.add(b)
    keeper.hold(ops([a, b]))
    mock.timers.tick(100)
    assert.deepEqual(renewed, [lease])
    inFlight.delete(a) // one key of the claim left: the other keeps the lease
    mock.timers.tick(100)
    assert.deepEqual(renewed, [lease, lease])
    inFlight.delete(b)
    mock.timers.tick(100)
    mock.timers.tick(100)
    assert.deepEqual(renewed, [lease, lease], 'no key in a flight: no renewal, and the timer stopped')
    keeper.stop()
  })

  it('goes on for a later claim of the shard after an earlier one landed', () => {
    const { keeper, layout, inFlight, renewed } = setup()
    const [a, b] = keysOf(layout, 3, 2) as [string, string]
    const lease = layout.lease(3)
    inFlight.add(a)
    keeper.hold(ops([a]))
    inFlight.add(b)
    keeper.hold(ops([b]))
    inFlight.delete(a)
    mock.timers.tick(100)
    assert.deepEqual(renewed, [lease])
    inFlight.delete(b)
    mock.timers.tick(100)
    assert.deepEqual(renewed, [lease])
    keeper.stop()
  })

  it('keeps each shard apart: one whose keys all left stops while another goes on', () => {
    const { keeper, layout, inFlight, renewed } = setup()
    const [a] = keysOf(layout, 0, 1) as [string]
    const [b] = keysOf(layout, 2, 1) as [string]
    inFlight.add(a)
    inFlight.add(b)
    keeper.hold(ops([a, b]))
    inFlight.delete(a)
    mock.timers.tick(100)
    assert.deepEqual(renewed, [layout.lease(2)])
    keeper.stop()
    mock.timers.tick(100)
    assert.deepEqual(renewed, [layout.lease(2)], 'stop ends every renewal')
  })
})
