/**
 * Durability `replicated` on a Redis tier, with a real replica (REPLICAOF, link up before any
 * assertion), on each server binary (`SERVER_BINARIES`: Redis 7.0, and Valkey 8 where installed):
 * writes made together share one WAIT in one pipeline (group commit, counted in the primary's
 * command stats) and resolve once the replica has them; with the replica paused (SIGSTOP) a write
 * is reported not confirmed (`ReplicationNotConfirmedError`, `applied`), and is still served and
 * flushed: a shortfall is never a failed write.
 *
 * `replicaWait: 'waitaof'`: refused at open where the server has no WAITAOF (Redis 7.0) or the
 * primary has appendonly off; on Valkey 8 with AOF on both, writes are confirmed by one WAITAOF
 * per group, and a paused replica leaves them not confirmed (the primary did fsync them).
 *
 * Each on ioredis and on node-redis (`CLIENT_KINDS`): the tier's client is of that kind, the
 * test's own reads go through ioredis.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Redis } from 'ioredis'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { RedisConfigError, ReplicationNotConfirmedError } from '../../src/errors.js'
import { RedisTier } from '../../src/redis.js'
import { MemoryStore } from '../../src/stores/memory-store.js'
import { infoFields } from '../../src/tier/redis/startup.js'
import { replicate, SERVER_BINARIES, startOwnRedis, type OwnRedis } from '../helpers/own-redis.js'
import { CLIENT_KINDS, tierClient, type ClientKind } from '../helpers/tier-clients.js'
import type { RedisClientLike } from '../../src/redis.js'

let primary: OwnRedis
let replica: OwnRedis
const clients: Array<{ disconnect(): void }> = []
let kind: ClientKind

function client(server: OwnRedis): Redis {
  const c = server.client()
  clients.push(c)
  return c
}

/** A client of the describe's kind on `server`, for a tier. */
async function forTier(server: OwnRedis): Promise<RedisClientLike> {
  const made = await tierClient(kind, server.url)
  clients.push(made)
  return made.client
}

/** Calls of `command` the server counted (INFO commandstats). */
async function calls(admin: Redis, command: string): Promise<number> {
  return Number(/calls=(\d+)/.exec(infoFields(String(await admin.info('commandstats'))).get(`cmdstat_${command}`) ?? '')?.[1] ?? 0)
}

/** A primary and its replica of `binary`, for the describe block it is called in. */
function pairOf(binary: string): void {
  before(async () => {
    primary = await startOwnRedis([], { binary })
    replica = await startOwnRedis([], { binary })
    await replicate(replica, primary)
  })
  after(async () => {
    for (const c of clients.splice(0)) c.disconnect()
    await replica.destroy()
    await primary.destroy()
  })
}

/** Runs `write` with the replica paused; returns what it threw. */
async function withReplicaPaused(write: () => Promise<unknown>): Promise<unknown> {
  replica.pause()
  try {
    await write()
    return undefined
  } catch (error) {
    return error
  } finally {
    replica.resume()
  }
}

async function hasWaitAof(server: OwnRedis): Promise<boolean> {
  const reply = (await client(server).call('COMMAND', 'INFO', 'WAITAOF')) as unknown[]
  return Array.isArray(reply[0])
}

for (const binary of SERVER_BINARIES) {
  for (const each of CLIENT_KINDS) {
    describe(`durability 'replicated' with a real replica (${binary}, ${each})`, () => {
      before(() => (kind = each))
      pairOf(binary)

      it('acknowledges once the replica has the writes, one WAIT for writes made together, and survives a script cache flush', async () => {
        const store = new MemoryStore()
        const tier = new RedisTier({ client: await forTier(primary), name: 'rep', replicas: 1, replicaTimeoutMs: 5000 })
        const cache = await WriteBehindCache.open({ store, tier, durability: 'replicated' })
        const admin = client(primary)
        const before = await calls(admin, 'wait')
        await Promise.all(Array.from({ length: 50 }, (_, i) => cache.set(`k${i}`, i)))
        assert.equal((await calls(admin, 'wait')) - before, 1, '50 writes of one tick share one WAIT')
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
        const tier = new RedisTier({ client: await forTier(primary), name: 'paused', replicas: 1, replicaTimeoutMs: 300 })
        const cache = await WriteBehindCache.open({ store, tier, durability: 'replicated' })
        await cache.set('before', 1)
        const error = await withReplicaPaused(() => cache.set('k', 'applied anyway'))
        assert.ok(error instanceof ReplicationNotConfirmedError, String(error))
        assert.equal(error.code, 'E_REPLICATION_NOT_CONFIRMED')
        assert.equal(error.applied, true)
        assert.equal(error.replicas, 0)
        assert.equal(error.wanted, 1)
        assert.equal(error.primaryFsynced, undefined, 'WAIT says nothing of fsyncs')
        assert.equal(await cache.get('k'), 'applied anyway')
        await cache.flush()
        assert.equal(store.snapshot().get('k'), 'applied anyway')
        await cache.set('after', 2) // the replica caught up: confirmed again
        await cache.close()
      })

      it("replicaWait 'waitaof': used where the server has WAITAOF, refused at open with a typed error where it has not", async (t) => {
        const open = async (name: string, server = primary): Promise<WriteBehindCache> =>
          WriteBehindCache.open({
            store: new MemoryStore(),
            tier: new RedisTier({ client: await forTier(server), name, replicas: 1, replicaTimeoutMs: 5000, replicaWait: 'waitaof' }),
            durability: 'replicated',
          })
        if (!(await hasWaitAof(primary))) {
          await assert.rejects(open('noaof'), (error: unknown) => error instanceof RedisConfigError && error.setting === 'replicaWait' && /WAITAOF/.test(error.message))
          return
        }
        const admin = client(primary)
        const [waits, aofs] = [await calls(admin, 'wait'), await calls(admin, 'waitaof')]
        const cache = await open('aof')
        await Promise.all(Array.from({ length: 50 }, (_, i) => cache.set(`k${i}`, i)))
        assert.equal((await calls(admin, 'waitaof')) - aofs, 1, '50 writes of one tick share one WAITAOF')
        assert.equal((await calls(admin, 'wait')) - waits, 0, 'and no WAIT')
        const warned: string[] = []
        const error = await withReplicaPaused(async () => {
          const tier = new RedisTier({ client: await forTier(primary), name: 'aofpaused', replicas: 1, replicaTimeoutMs: 300, replicaWait: 'waitaof' })
          const paused = await WriteBehindCache.open({ store: new MemoryStore(), tier, durability: 'replicated', warn: (code) => warned.push(code) })
          try {
            await paused.set('k', 'applied anyway')
          } finally {
            await paused.close()
          }
        })
        assert.ok(error instanceof ReplicationNotConfirmedError, String(error))
        assert.equal(error.replicas, 0, 'the paused replica fsynced nothing')
        assert.equal(error.primaryFsynced, true, 'the primary did')
        assert.ok(warned.includes('WB_REDIS_WAITAOF_TIMEOUT'), `a timeout under 2 s is warned about: ${warned.join()}`)
        await cache.set('after', 2) // confirmed again once the replica caught up
        await cache.close()
        t.diagnostic(`WAITAOF confirmed writes on ${binary}`)
        // A primary without an append-only file cannot fsync: refused at open.
        const noAof = await startOwnRedis(['--appendonly', 'no'], { binary })
        try {
          await assert.rejects(open('off', noAof), (e: unknown) => e instanceof RedisConfigError && e.setting === 'replicaWait' && /appendonly/.test(e.message))
        } finally {
          await noAof.destroy()
        }
      })
    })
  }
}
