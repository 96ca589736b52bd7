/**
 * The Redis tier's retry state (retry-scripts.ts) on a redis-server of the test's own: a failed
 * op's attempts and backoff are recorded on its version and seen by another instance's claim; a
 * rewrite starts the key over (0 attempts, due at once) and a late record for the old version
 * changes nothing; an acknowledgement forgets the state.
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { Redis } from 'ioredis'
import { systemClock } from '../../src/contracts/clock.js'
import { strictJson } from '../../src/core/json-codec.js'
import type { PendingOp } from '../../src/flush/pending-op.js'
import { RedisTier } from '../../src/tier/redis/redis-tier.js'
import { describeEachServer, type ServerInUse } from '../helpers/each-server.js'

let own: ServerInUse
let admin: Redis
let names = 0

/** Two instances of one cache name (two processes, as far as Redis can tell). */
async function twoTiers(): Promise<[RedisTier, RedisTier]> {
  const name = `r${++names}`
  const open = async (): Promise<RedisTier> => {
    const client = own.client()
    const tier = new RedisTier({ client, name, shards: 2 })
    await tier.open({ codec: strictJson, clock: systemClock, warn: () => {}, ttlMs: 0, maxEntries: 1000, settledElsewhere: () => {}, heldAt: () => {} })
    return tier
  }
  return [await open(), await open()]
}

async function take(tier: RedisTier): Promise<PendingOp[]> {
  await tier.refresh()
  return await tier.take(100, new Set(), undefined)
}

async function write(tier: RedisTier, key: string, encoded: string): Promise<number> {
  const answer = await tier.write(key, encoded, { force: false, replicated: false })
  assert.equal(answer.full, false)
  return (answer as { version: number }).version
}

/** The suite, run on each server binary (`SERVER_BINARIES`, at the end). */
function suite(): void {
  it('records attempts and a not-before on the failed version; another instance waits it out, then continues the count', async () => {
    const [a, b] = await twoTiers()
    await write(a, 'k', '1')
    const [op] = await take(a)
    assert.ok(op !== undefined)
    op.attempts = 3
    await a.retrying([op], 60_000)
    await a.releaseLeases() // as if its worker died: b may claim the shard
    const entry = a.layout.entry(a.layout.shardOf('k'), 'k')
    assert.equal(await admin.hget(entry, 'att'), '3')
    assert.deepEqual(await take(b), [], 'not claimed during its backoff')
    assert.equal(b.waiting, 1, 'still counted dirty')
    await a.retrying([op], 0) // a later record never moves the not-before back
    assert.deepEqual(await take(b), [])
    await admin.zadd(a.layout.dirty(a.layout.shardOf('k')), '0', 'k') // the backoff ends
    const [again] = await take(b)
    assert.equal(again?.attempts, 3, 'the other instance starts from the recorded count')
    assert.ok((again?.firstFailedAt ?? 0) > 0, 'and knows when the first attempt failed')
    b.applied(again)
    await b.settled()
    assert.deepEqual(await admin.hmget(entry, 'att', 'ff', 'st'), [null, null, 'c'], 'an acknowledgement forgets the retry state')
  })

  it('a rewrite starts over: 0 attempts, due at once; a late record for the old version changes nothing', async () => {
    const [a, b] = await twoTiers()
    await write(a, 'k', '1')
    const [old] = await take(a)
    assert.ok(old !== undefined)
    old.attempts = 5
    await a.retrying([old], 60_000)
    await a.releaseLeases()
    const v2 = await write(b, 'k', '2')
    const entry = a.layout.entry(a.layout.shardOf('k'), 'k')
    assert.deepEqual(await admin.hmget(entry, 'att', 'ff'), [null, null])
    await a.retrying([old], 60_000) // the old op's worker fails it once more
    assert.equal(await admin.hget(entry, 'att'), null, 'not counted against the new version')
    const [fresh] = await take(b)
    assert.equal(fresh?.version, v2, 'the new version is due at once')
    assert.equal(fresh?.attempts, 0)
  })

  it('keeps the retry set to the keys that may hold retry state: a record adds the key, an ack or a dead letter takes it out, a rewrite keeps it until then', async () => {
    const [a] = await twoTiers()
    const shard = a.layout.shardOf('k')
    const members = (): Promise<string[]> => admin.smembers(a.layout.retry(shard))
    await write(a, 'k', '1')
    const [first] = await take(a)
    assert.ok(first !== undefined)
    first.attempts = 1
    await a.retrying([first], 0)
    assert.deepEqual(await members(), ['k'], 'the claim and the ack read its att and ff')
    await write(a, 'k', '2') // drops att and ff; the key stays a member while dirty
    const [second] = await take(a)
    assert.ok(second !== undefined)
    assert.equal(second.attempts, 0)
    a.applied(first) // an older version's ack: the entry stays dirty
    await a.settled()
    assert.deepEqual(await members(), ['k'])
    a.applied(second)
    await a.settled()
    assert.deepEqual(await members(), [], 'an ack that leaves the entry clean takes it out')
    await write(a, 'k', '3')
    const [third] = await take(a)
    assert.ok(third !== undefined)
    third.attempts = 2
    await a.retrying([third], 0)
    assert.deepEqual(await members(), ['k'])
    await a.deadLetter([third], new Error('poison'))
    assert.deepEqual(await members(), [], 'a dead letter takes it out')
  })
}

describeEachServer(
  (binary) => `retry state in Redis (${binary})`,
  (current) => {
    own = current
    admin = current.admin
  },
  suite,
)
