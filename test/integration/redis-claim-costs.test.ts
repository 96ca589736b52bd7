/**
 * What a claim and an acknowledgement cost Redis, on a redis-server of the test's own: a claim
 * reads about as many entries as it gives out, keys in flight or settling do not shrink a claim
 * (they come back, are skipped, and the claim goes on past them), and the acknowledgement of a
 * batch removes its keys from the shard's two sorted sets in one call per set and chunk, still by
 * compare-and-swap. Counted with INFO commandstats (calls made inside scripts are counted by
 * command), so the figures do not depend on timing.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Redis } from 'ioredis'
import { strictJson } from '../../src/core/json-codec.js'
import { systemClock } from '../../src/contracts/clock.js'
import type { PendingOp } from '../../src/flush/pending-op.js'
import { RedisTier } from '../../src/tier/redis/redis-tier.js'
import { infoFields } from '../../src/tier/redis/startup.js'
import { CHUNK } from '../../src/tier/redis/scripts.js'
import { startOwnRedis, type OwnRedis } from '../helpers/own-redis.js'

let server: OwnRedis
let admin: Redis
const clients: Redis[] = []
let names = 0

/** A one-shard tier: every key lands in the shard a claim reads. */
async function openTier(): Promise<RedisTier> {
  const client = server.client()
  clients.push(client)
  const tier = new RedisTier({ client, name: `c${++names}`, shards: 1 })
  await tier.open({ codec: strictJson, clock: systemClock, warn: () => {}, ttlMs: 0, maxEntries: 1_000_000, settledElsewhere: () => {}, heldAt: () => {} })
  return tier
}

async function writeKeys(tier: RedisTier, count: number, prefix = 'k'): Promise<void> {
  for (let i = 0; i < count; i++) await tier.write(`${prefix}${i}`, `{"n":${i}}`, { force: false, replicated: false })
  await tier.refresh()
}

/** Calls of `command` since the last reset (inside scripts too). */
async function calls(command: string): Promise<number> {
  const line = infoFields(String(await admin.info('commandstats'))).get(`cmdstat_${command}`)
  return Number(/calls=(\d+)/.exec(line ?? '')?.[1] ?? 0)
}

describe('the Redis tier: what claims and acknowledgements cost Redis', () => {
  before(async () => {
    server = await startOwnRedis()
    admin = server.client()
  })
  after(async () => {
    for (const c of clients) c.disconnect()
    admin?.disconnect()
    await server?.destroy()
  })

  it('a claim reads about as many entries as it gives out', async () => {
    const tier = await openTier()
    await writeKeys(tier, 300)
    await admin.config('RESETSTAT')
    const ops = await tier.take(100, new Set(), undefined)
    assert.equal(ops.length, 100)
    assert.equal(await calls('hmget'), 100, 'one entry read per op given out')
  })

  it('keys in flight or settling come back to a claim but do not shrink it, nor does any key go out twice', async () => {
    const tier = await openTier()
    await writeKeys(tier, 400)
    const first = await tier.take(100, new Set(), undefined)
    const busy = new Set(first.map((op) => op.key))
    const second = await tier.take(100, busy, undefined)
    assert.equal(second.length, 100, 'a full batch past the 100 keys in flight')
    assert.ok(
      second.every((op) => !busy.has(op.key)),
      'none of the keys in flight',
    )
    // The first batch lands: its keys settle (acks on their way) while a third claim runs.
    for (const op of first) tier.applied(op)
    const inFlight = new Set(second.map((op) => op.key))
    const third = await tier.take(100, inFlight, undefined)
    assert.equal(third.length, 100)
    const seen = new Set([...busy, ...inFlight])
    assert.ok(
      third.every((op) => !seen.has(op.key)),
      'neither a settling key nor one in flight',
    )
    await tier.settled()
  })

  it('acknowledges a batch with one ZREM per sorted set and chunk, by compare-and-swap: a key rewritten in flight stays dirty at its new version', async () => {
    const tier = await openTier()
    const count = CHUNK * 2 + 50
    await writeKeys(tier, count)
    const ops = await tier.take(count, new Set(), undefined)
    assert.equal(ops.length, count)
    const rewritten = ['k7', `k${CHUNK + 3}`, `k${count - 1}`]
    for (const key of rewritten) await tier.write(key, '"again"', { force: false, replicated: false })
    await admin.config('RESETSTAT')
    for (const op of ops) tier.applied(op)
    await tier.settled()
    const chunks = Math.ceil(count / CHUNK)
    assert.equal(await calls('zrem'), 2 * chunks, 'one ZREM for the dirty set and one for the version index, per chunk')
    await tier.refresh()
    assert.equal(tier.waiting, rewritten.length)
    const left: PendingOp[] = await tier.take(count, new Set(), undefined)
    assert.deepEqual(left.map((op) => [op.key, op.kind === 'set' ? op.encoded : null]).sort(), rewritten.map((key) => [key, '"again"']).sort())
    const entries = await tier.read(['k0', 'k7', `k${count - 2}`])
    assert.deepEqual(
      entries.map((e) => e?.state),
      ['c', 'd', 'c'],
    )
    const shard = tier.layout.shardOf('k0')
    assert.equal(await admin.zcard(tier.layout.dirty(shard)), rewritten.length)
    assert.equal(await admin.zcard(tier.layout.vers(shard)), rewritten.length)
  })
})
