/**
 * The Redis tier on a real Redis Cluster of its own (3 primaries + 3 replicas, `own-cluster.ts`),
 * the client an ioredis `Cluster`: writes, reads and deletes flushed into PostgreSQL; every script
 * in one slot (no CROSSSLOT, per each primary's error stats); the writes spread over the primaries
 * and no Redis key touched by a large part of them (sampled with MONITOR on every primary); one
 * WAIT per primary for writes made together, each write confirmed by its own primary's replica
 * (a paused replica makes only its primary's writes not confirmed); NOSCRIPT on every node
 * answered; every primary's eviction policy checked and too few shards warned about.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { RedisConfigError, ReplicationNotConfirmedError } from '../../src/errors.js'
import { RedisTier } from '../../src/redis.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { MemoryStore } from '../../src/stores/memory-store.js'
import { keySlot } from '../../src/tier/redis/key-slot.js'
import { infoFields } from '../../src/tier/redis/startup.js'
import { clusterFixture } from '../helpers/cluster-fixture.js'
import type { ClusterNode, OwnCluster } from '../helpers/own-cluster.js'
import { uniqueName } from '../helpers/store-servers.js'

const fixture = clusterFixture()
let cluster: OwnCluster
let pool: pg.Pool
before(async () => ({ cluster, pool } = await fixture.start()))

function nodeClient(node: ClusterNode): Redis {
  return fixture.track(node.client())
}

/**
 * A MONITOR connection to `node`, disconnected in `after`. ioredis can take a monitor line that
 * arrives before it has switched to monitoring for a reply ("Command queue state error") and
 * then never resolves `monitor()`; such a connection is dropped and another one opened.
 */
async function monitorOf(node: ClusterNode): Promise<Redis> {
  for (let attempt = 1; ; attempt++) {
    const monitor = fixture.track(nodeClient(node).duplicate({ monitor: true, lazyConnect: false }))
    const failed = await new Promise<Error | undefined>((resolve) => {
      monitor.once('monitoring', () => resolve(undefined))
      monitor.once('error', resolve)
    })
    if (failed === undefined) {
      monitor.on('error', () => {}) // a stray line later only loses that line: the counts are lower bounds
      return monitor
    }
    monitor.disconnect()
    if (attempt === 3) throw failed
  }
}

/** `field` of INFO `section`'s `name` line (`calls=12,usec=…`), as a number; 0 when absent. */
async function stat(node: ClusterNode, section: string, name: string, field: string): Promise<number> {
  const line = infoFields(String(await nodeClient(node).info(section))).get(name) ?? ''
  return Number(new RegExp(`${field}=(\\d+)`).exec(line)?.[1] ?? 0)
}

async function perPrimary(section: string, name: string, field: string): Promise<Map<number, number>> {
  const out = new Map<number, number>()
  for (const node of await cluster.primaries()) out.set(node.port, await stat(node, section, name, field))
  return out
}

function delta(after: Map<number, number>, before: Map<number, number>): number[] {
  return [...after].map(([port, n]) => n - (before.get(port) ?? 0))
}

describe('the Redis tier on a Redis Cluster', () => {
  it('computes the slot of a key as the cluster does', async () => {
    const keys = ['a', 'player:42', '{wb:x:3}:e:k', 'foo{}{bar}', 'foo{{bar}}zap', '{wb:scores:15}:dirty', 'héllo', '']
    for (const key of keys) assert.equal(keySlot(key), await cluster.slotOf(key), key)
  })

  it('writes, reads and deletes through the cluster and flushes into PostgreSQL, every script in one slot', async () => {
    const table = uniqueName('cluster')
    const crossSlot = await perPrimary('errorstats', 'errorstat_CROSSSLOT', 'count')
    const tier = new RedisTier({ client: fixture.client(), name: 'round', shards: 32 })
    const cache = await WriteBehindCache.open({ store: new PostgresStore({ pool, table }), tier, flush: { intervalMs: 50, batchSize: 200 } })
    const keys = Array.from({ length: 1500 }, (_, i) => `user:${i}`)
    await Promise.all(keys.map((key, i) => cache.set(key, { i })))
    await Promise.all(keys.filter((_, i) => i % 3 === 0).map((key) => cache.delete(key)))
    await cache.setMany(keys.slice(0, 300).map((key) => [key, 'again']))
    assert.deepEqual(await cache.getMany(keys.slice(298, 302)), ['again', 'again', undefined, { i: 301 }])
    // Another process's view: its own client, same name.
    const other = await WriteBehindCache.open({ store: new PostgresStore({ pool, table }), tier: new RedisTier({ client: fixture.client(), name: 'round', shards: 32 }) })
    assert.deepEqual(await other.get('user:1'), 'again')
    await cache.flush()
    const { rows } = await pool.query<{ key: string; value: unknown; deleted: boolean }>(`SELECT key, value, deleted FROM ${table}`)
    const stored = new Map(rows.map((r) => [r.key, r.deleted ? undefined : r.value]))
    assert.equal(stored.size, keys.length)
    keys.forEach((key, i) => assert.deepEqual(stored.get(key), i < 300 ? 'again' : i % 3 === 0 ? undefined : { i }, key))
    assert.equal(cache.stats().backlog.entries, 0)
    assert.deepEqual(delta(await perPrimary('errorstats', 'errorstat_CROSSSLOT', 'count'), crossSlot), [0, 0, 0], 'no CROSSSLOT on any primary')
    await other.close()
    await cache.close()
    await pool.query(`DROP TABLE ${table}`)
  })

  it('spreads the writes over the primaries, and no Redis key takes a large part of them (MONITOR on every primary)', async (t) => {
    const tier = new RedisTier({ client: fixture.client(), name: 'spread', shards: 48 })
    const cache = await WriteBehindCache.open({ store: new MemoryStore(), tier, flush: { intervalMs: 60_000, maxDelayMs: 60_000 } })
    const seen = new Map<string, number>()
    const perNode: number[] = []
    const monitors = await Promise.all(
      (await cluster.primaries()).map(async (node, n) => {
        perNode[n] = 0
        const monitor = await monitorOf(node)
        monitor.on('monitor', (_time: string, args: string[]) => {
          if (args[0]?.toLowerCase() !== 'evalsha' && args[0]?.toLowerCase() !== 'eval') return
          perNode[n] = (perNode[n] ?? 0) + 1
          for (const key of args.slice(3, 3 + Number(args[2]))) seen.set(key, (seen.get(key) ?? 0) + 1)
        })
        return monitor
      }),
    )
    const writes = 3000
    for (let round = 0; round < 3; round++) await Promise.all(Array.from({ length: writes / 3 }, (_, i) => cache.set(`item:${i}`, round)))
    // MONITOR lines trail the replies (by more than 200 ms on a loaded machine): wait for them, up to 10 s.
    const total = (): number => perNode.reduce((a, b) => a + b, 0)
    for (const until = Date.now() + 10_000; total() < writes && Date.now() < until;) await new Promise((resolve) => setTimeout(resolve, 20))
    await new Promise((resolve) => setTimeout(resolve, 100)) // and for any script the writes caused beyond one each
    for (const monitor of monitors) monitor.disconnect()
    const scripts = total()
    assert.ok(scripts >= writes, `MONITOR saw ${scripts} scripts for ${writes} writes`)
    for (const count of perNode) assert.ok(count <= (2 * scripts) / perNode.length, `a primary ran ${count} of ${scripts} scripts (${perNode.join(' / ')})`)
    const [hottest, touches] = [...seen].sort((a, b) => b[1] - a[1])[0] as [string, number]
    assert.ok(touches < scripts / 8, `the hottest key ${hottest} was touched by ${touches} of ${scripts} scripts`)
    t.diagnostic(`scripts per primary ${perNode.join(' / ')}; hottest key ${hottest}: ${touches} of ${scripts}`)
    const slots = new Set([...seen.keys()].map(keySlot))
    assert.ok(slots.size >= 48, `the writes touched ${slots.size} slots`)
    await cache.close()
  })

  it('sends one WAIT per primary for writes made together, and confirms each write by its own primary’s replica', async () => {
    const tier = new RedisTier({ client: fixture.client(), name: 'rep', shards: 32, replicaTimeoutMs: 300 })
    const cache = await WriteBehindCache.open({ store: new MemoryStore(), tier, durability: 'replicated' })
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}`)
    const waits = await perPrimary('commandstats', 'cmdstat_wait', 'calls')
    await Promise.all(keys.map((key) => cache.set(key, 1)))
    assert.deepEqual(delta(await perPrimary('commandstats', 'cmdstat_wait', 'calls'), waits), [1, 1, 1], 'one WAIT per primary for 200 writes of one tick')
    const [primary] = await cluster.primaries()
    const [replica] = await cluster.replicasOf(primary as ClusterNode)
    const shardOwner = await Promise.all(Array.from({ length: 32 }, async (_, shard) => (await cluster.ownerOf(keySlot(tier.layout.dirty(shard)))).port))
    const owner = new Map(keys.map((key) => [key, shardOwner[tier.layout.shardOf(key)]]))
    replica?.pause()
    let results: Array<PromiseSettledResult<void>>
    try {
      results = await Promise.allSettled(keys.map((key) => cache.set(key, 2)))
    } finally {
      replica?.resume()
    }
    keys.forEach((key, i) => {
      const result = results[i] as PromiseSettledResult<void>
      if (owner.get(key) === primary?.port) {
        assert.ok(result.status === 'rejected' && result.reason instanceof ReplicationNotConfirmedError && result.reason.applied, `${key}: not confirmed`)
      } else {
        assert.equal(result.status, 'fulfilled', `${key} lives on another primary: confirmed by its replica`)
      }
    })
    assert.ok(keys.some((key) => owner.get(key) === primary?.port) && keys.some((key) => owner.get(key) !== primary?.port))
    assert.deepEqual(await cache.getMany(keys.slice(0, 5)), [2, 2, 2, 2, 2], 'not confirmed is still applied')
    await cache.close()
  })

  it('answers NOSCRIPT on every node (scripts are per node): writes at memory and replicated, reads and flushes go on', async () => {
    const store = new MemoryStore()
    const tier = new RedisTier({ client: fixture.client(), name: 'noscript', shards: 32, replicaTimeoutMs: 2000 })
    const cache = await WriteBehindCache.open({ store, tier, flush: { intervalMs: 60_000, maxDelayMs: 60_000 } })
    const flushScripts = async (): Promise<void> => {
      for (const node of cluster.nodes) await nodeClient(node).call('SCRIPT', 'FLUSH')
    }
    // One write at a time, each on scripts flushed everywhere: a script loaded on any node but the key's own would not do.
    const keys = Array.from({ length: 12 }, (_, i) => `s${i}`)
    for (const key of keys) {
      await flushScripts()
      await cache.set(key, 'memory')
      await flushScripts()
      await cache.set(key, 'replicated', { durability: 'replicated' })
    }
    await Promise.all(keys.map((key) => cache.set(key, 'memory')))
    await flushScripts()
    await Promise.all(keys.map((key) => cache.set(key, 'replicated', { durability: 'replicated' })))
    await flushScripts()
    assert.deepEqual(await cache.getMany(['s0', 's11']), ['replicated', 'replicated'])
    await cache.flush()
    assert.equal(store.snapshot().get('s7'), 'replicated')
    await cache.close()
  })

  it('checks every primary: refuses allkeys-* on any one of them, and warns when the cluster has too few shards per primary', async () => {
    const warnings: string[] = []
    const open = (name: string, shards: number): Promise<WriteBehindCache> =>
      WriteBehindCache.open({ store: new MemoryStore(), tier: new RedisTier({ client: fixture.client(), name, shards }), warn: (code) => warnings.push(code) })
    await (await open('few', 8)).close()
    assert.deepEqual(warnings, ['WB_REDIS_FEW_SHARDS'])
    await (await open('enough', 24)).close()
    assert.deepEqual(warnings, ['WB_REDIS_FEW_SHARDS'])
    const last = (await cluster.primaries()).at(-1) as ClusterNode
    await nodeClient(last).config('SET', 'maxmemory-policy', 'allkeys-lru')
    try {
      await assert.rejects(open('evicting', 24), (e: unknown) => e instanceof RedisConfigError && e.setting === 'maxmemory-policy' && e.message.includes(String(last.port)))
    } finally {
      await nodeClient(last).config('SET', 'maxmemory-policy', 'noeviction')
    }
  })
})
