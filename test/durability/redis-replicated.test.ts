/**
 * Durability `replicated` on a Redis tier, with a real replica (REPLICAOF, link up before any
 * assertion): writes made together share one WAIT in one pipeline (group commit, counted in the
 * primary's command stats) and resolve once the replica has them; with the replica paused
 * (SIGSTOP) a write is reported not confirmed (`ReplicationNotConfirmedError`, `applied`), and is
 * still served and flushed: a shortfall is never a failed write.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Redis } from 'ioredis'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { ReplicationNotConfirmedError } from '../../src/errors.js'
import { RedisTier } from '../../src/redis.js'
import { MemoryStore } from '../../src/stores/memory-store.js'
import { infoFields } from '../../src/tier/redis/startup.js'
import { replicate, startOwnRedis, type OwnRedis } from '../helpers/own-redis.js'

let primary: OwnRedis
let replica: OwnRedis
const clients: Redis[] = []

before(async () => {
  primary = await startOwnRedis()
  replica = await startOwnRedis()
  await replicate(replica, primary)
})

after(async () => {
  for (const c of clients) c.disconnect()
  await replica.destroy()
  await primary.destroy()
})

function client(server: OwnRedis): Redis {
  const c = server.client()
  clients.push(c)
  return c
}

async function waitCalls(admin: Redis): Promise<number> {
  return Number(/calls=(\d+)/.exec(infoFields(String(await admin.info('commandstats'))).get('cmdstat_wait') ?? '')?.[1] ?? 0)
}

describe("durability 'replicated' with a real replica", () => {
  it('acknowledges once the replica has the writes, one WAIT for writes made together, and survives a script cache flush', async () => {
    const store = new MemoryStore()
    const tier = new RedisTier({ client: client(primary), name: 'rep', replicas: 1, replicaTimeoutMs: 5000 })
    const cache = await WriteBehindCache.open({ store, tier, durability: 'replicated' })
    const admin = client(primary)
    const before = await waitCalls(admin)
    await Promise.all(Array.from({ length: 50 }, (_, i) => cache.set(`k${i}`, i)))
    assert.equal((await waitCalls(admin)) - before, 1, '50 writes of one tick share one WAIT')
    const onReplica = client(replica)
    const layout = tier.layout
    for (const i of [0, 17, 49]) assert.equal(await onReplica.hget(layout.entry(layout.shardOf(`k${i}`), `k${i}`), 'p'), String(i), `k${i} is on the replica`)
    // Scripts gone from the server's cache (as on a promoted replica): loaded again, each write applied once.
    await admin.call('SCRIPT', 'FLUSH')
    await Promise.all([cache.set('k0', 'again'), cache.set('new', 'one')])
    assert.equal(await onReplica.hget(layout.entry(layout.shardOf('new'), 'new'), 'p'), '"one"')
    assert.equal(await cache.get('k0'), 'again')
    await cache.flush()
    assert.equal(store.snapshot().get('k0'), 'again')
    await cache.close()
  })

  it('reports a write the paused replica did not acknowledge as not confirmed, and still serves and flushes it', async () => {
    const store = new MemoryStore()
    const tier = new RedisTier({ client: client(primary), name: 'paused', replicas: 1, replicaTimeoutMs: 300 })
    const cache = await WriteBehindCache.open({ store, tier, durability: 'replicated' })
    await cache.set('before', 1)
    replica.pause()
    let error: unknown
    try {
      await cache.set('k', 'applied anyway')
    } catch (e) {
      error = e
    } finally {
      replica.resume()
    }
    assert.ok(error instanceof ReplicationNotConfirmedError, String(error))
    assert.equal(error.code, 'E_REPLICATION_NOT_CONFIRMED')
    assert.equal(error.applied, true)
    assert.equal(error.replicas, 0)
    assert.equal(error.wanted, 1)
    assert.equal(await cache.get('k'), 'applied anyway')
    await cache.flush()
    assert.equal(store.snapshot().get('k'), 'applied anyway')
    await cache.set('after', 2) // the replica caught up: confirmed again
    await cache.close()
  })
})
