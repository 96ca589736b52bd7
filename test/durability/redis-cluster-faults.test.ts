/**
 * The Redis tier on its own Redis Cluster (3 primaries + 3 replicas) while the cluster changes
 * under running writers, each writer owning its keys and writing 1, 2, 3… to each in turn:
 *
 * - a shard's slot moved to another primary key by key (IMPORTING/MIGRATING, MIGRATE, SETSLOT
 *   NODE) while writers write that shard's keys: the writes meet ASK and TRYAGAIN and go on; nothing
 *   acknowledged is lost, and the store ends equal to each key's last acknowledged value;
 * - a primary killed with SIGKILL: its replica is promoted, writes fail for a window and then go on,
 *   and every write acknowledged at `replicated` is in the store (or superseded by a later one).
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import type pg from 'pg'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { RedisClusterError, ReplicationNotConfirmedError } from '../../src/errors.js'
import { RedisTier } from '../../src/redis.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { TRYAGAIN_BUDGET_MS } from '../../src/tier/redis/ioredis-cluster-client.js'
import { keySlot } from '../../src/tier/redis/key-slot.js'
import { infoFields } from '../../src/tier/redis/startup.js'
import type { RedisLayout } from '../../src/tier/redis/layout.js'
import { clusterFixture } from '../helpers/cluster-fixture.js'
import type { ClusterNode, OwnCluster } from '../helpers/own-cluster.js'
import { uniqueName } from '../helpers/store-servers.js'

const fixture = clusterFixture()
let cluster: OwnCluster
let pool: pg.Pool
before(async () => ({ cluster, pool } = await fixture.start()))

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** `count` keys of `shard`, and as many of other shards. */
function keysOf(layout: RedisLayout, shard: number, count: number): { inShard: string[]; elsewhere: string[] } {
  const inShard: string[] = []
  const elsewhere: string[] = []
  for (let i = 0; inShard.length < count || elsewhere.length < count; i++) {
    const key = `key:${i}`
    if (layout.shardOf(key) === shard) {
      if (inShard.length < count) inShard.push(key)
    } else if (elsewhere.length < count) elsewhere.push(key)
  }
  return { inShard, elsewhere }
}

interface Writers {
  /** Per key, the last value acknowledged (at `replicated`: confirmed by a replica). */
  readonly acked: Map<string, number>
  /** Keys whose last write failed in a way that leaves it unknown whether it applied (not a `RedisClusterError`). */
  readonly unknown: Set<string>
  readonly errors: Error[]
  /** How long each failed write took, in `errors`' order (ms). */
  readonly errorMs: number[]
  readonly notConfirmed: number
  /** Writes acknowledged so far. */
  readonly acks: number
  /** The longest time a writer went between two answered writes (acknowledged or not confirmed, ms): how long it could not write. */
  longestGapMs(): number
  stop(): Promise<void>
}

/** `count` writers, each writing its share of `keys` in turn, until stopped (`mixed`: every other writer at `replicated`). */
function startWriters(cache: WriteBehindCache, keys: readonly string[], count: number, level: 'memory' | 'replicated' | 'mixed'): Writers {
  const acked = new Map<string, number>()
  const unknown = new Set<string>()
  const errors: Error[] = []
  const errorMs: number[] = []
  let longestGap = 0
  let notConfirmed = 0
  let acks = 0
  let stopped = false
  const loops = Array.from({ length: count }, async (_, w) => {
    const mine = keys.filter((_, i) => i % count === w)
    const durability = level === 'mixed' ? (w % 2 === 0 ? 'memory' : 'replicated') : level
    let lastAnswer = Date.now()
    for (let n = 1; !stopped; n++) {
      for (const key of mine) {
        if (stopped) break
        const answered = (): void => {
          longestGap = Math.max(longestGap, Date.now() - lastAnswer)
          lastAnswer = Date.now()
          unknown.delete(key)
        }
        const started = Date.now()
        try {
          await cache.set(key, n, { durability })
          acked.set(key, n)
          acks++
          answered()
        } catch (error) {
          if (error instanceof ReplicationNotConfirmedError) {
            notConfirmed++
            answered()
          } else {
            errors.push(error as Error)
            errorMs.push(Date.now() - started)
            if (!(error instanceof RedisClusterError && !error.applied)) unknown.add(key)
            await sleep(20)
          }
        }
      }
    }
  })
  return {
    acked,
    unknown,
    errors,
    errorMs,
    longestGapMs: () => longestGap,
    get notConfirmed() {
      return notConfirmed
    },
    get acks() {
      return acks
    },
    async stop() {
      stopped = true
      await Promise.all(loops)
    },
  }
}

async function redirections(...names: string[]): Promise<number> {
  let total = 0
  for (const node of await cluster.primaries()) {
    const c = node.client()
    const stats = infoFields(String(await c.info('errorstats')))
    c.disconnect()
    for (const name of names.length > 0 ? names : ['errorstat_ASK', 'errorstat_TRYAGAIN', 'errorstat_MOVED']) total += Number(/count=(\d+)/.exec(stats.get(name) ?? '')?.[1] ?? 0)
  }
  return total
}

async function stored(table: string): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ key: string; value: number }>(`SELECT key, value FROM ${table} WHERE NOT deleted`)
  return new Map(rows.map((r) => [r.key, Number(r.value)]))
}

describe('the Redis tier while the Redis Cluster changes', () => {
  it('moves a shard’s slot to another primary while writers write its keys: nothing acknowledged is lost', async (t) => {
    const table = uniqueName('reshard')
    const tier = new RedisTier({ client: fixture.client(), name: 'reshard', shards: 32 })
    const cache = await WriteBehindCache.open({ store: new PostgresStore({ pool, table }), tier, flush: { intervalMs: 20, batchSize: 50 } })
    const shard = 5
    const slot = keySlot(tier.layout.dirty(shard))
    const { inShard, elsewhere } = keysOf(tier.layout, shard, 60)
    await cache.setMany([...inShard, ...elsewhere].map((key) => [key, 0]))
    const before = await redirections()
    const asksBefore = await redirections('errorstat_ASK')
    const writers = startWriters(cache, [...inShard, ...elsewhere], 6, 'mixed')
    await sleep(300)
    const from = await cluster.ownerOf(slot)
    const to = (await cluster.primaries()).find((node) => node !== from) as ClusterNode
    // The shard's own keys and half its entries first: writes of those keys then meet ASK (all their keys moved), the rest TRYAGAIN.
    const layout = tier.layout
    const first = [layout.dirty(shard), layout.vers(shard), layout.meta(shard), ...inShard.filter((_, i) => i % 2 === 0).map((key) => layout.entry(shard, key))]
    const moved = await cluster.migrateSlot(slot, to, { batch: 2, pauseMs: 15, first })
    await sleep(300)
    await writers.stop()
    assert.equal((await cluster.ownerOf(slot)).port, to.port, 'the slot moved')
    const redirected = (await redirections()) - before
    const asked = (await redirections('errorstat_ASK')) - asksBefore
    t.diagnostic(
      `${moved} keys moved; ${redirected} ASK/TRYAGAIN/MOVED replies (${asked} ASK); ${writers.errors.length} writes failed (${writers.errors[0]?.message ?? 'none'}), ${writers.unknown.size} of them indeterminate`,
    )
    assert.ok(asked > 0 && redirected > asked, 'the writers met the migration (ASK and TRYAGAIN)')
    // MOVED and ASK are always followed; TRYAGAIN is waited out for TRYAGAIN_BUDGET_MS (on a loaded machine the slot may stay split longer).
    writers.errors.forEach((error, i) => {
      assert.ok(error instanceof RedisClusterError && error.reply === 'TRYAGAIN' && !error.applied, error.message)
      assert.ok((writers.errorMs[i] ?? 0) >= TRYAGAIN_BUDGET_MS, `a write failed on TRYAGAIN after ${writers.errorMs[i]} ms`)
    })
    await cache.flush()
    const rows = await stored(table)
    for (const key of [...inShard, ...elsewhere]) {
      // A write failed with RedisClusterError did not apply: the key holds its last acknowledged value.
      if (!writers.unknown.has(key)) assert.equal(rows.get(key), writers.acked.get(key), key)
      assert.ok((rows.get(key) ?? -1) >= (writers.acked.get(key) ?? 0), `${key}: stored ${rows.get(key)}, acknowledged ${writers.acked.get(key)}`)
    }
    assert.deepEqual(
      await cache.getMany(inShard),
      inShard.map((key) => rows.get(key)),
      'Redis agrees with the store',
    )
    await cache.close()
    await pool.query(`DROP TABLE ${table}`)
  })

  it('kills a primary with SIGKILL: its replica takes over, writes go on after a window, every replicated acknowledgement survives', async (t) => {
    const table = uniqueName('failover')
    const tier = new RedisTier({ client: fixture.client(), name: 'failover', shards: 32, replicaTimeoutMs: 1000 })
    const cache = await WriteBehindCache.open({ store: new PostgresStore({ pool, table }), tier, durability: 'replicated', flush: { intervalMs: 20, batchSize: 100 } })
    const keys = Array.from({ length: 120 }, (_, i) => `acct:${i}`)
    const writers = startWriters(cache, keys, 6, 'replicated')
    await sleep(500)
    const victim = await cluster.ownerOf(keySlot(tier.layout.dirty(0)))
    const [heir] = await cluster.replicasOf(victim)
    const killedAt = Date.now()
    await victim.crash()
    await cluster.settle(30_000)
    const promotedMs = Date.now() - killedAt
    assert.equal(await heir?.role(), 'primary', 'the replica was promoted')
    const acksAtPromotion = writers.acks
    // The promoted primary has no replica: each write of its shards waits out replicaTimeoutMs and is
    // not confirmed, so acknowledgements come slowly; on a loaded machine the first may take seconds.
    let mark = Date.now()
    while (writers.acks === acksAtPromotion && Date.now() - mark < 30_000) await sleep(50)
    const firstAckMs = Date.now() - mark
    await sleep(1000)
    mark = Date.now()
    await writers.stop()
    const stopMs = Date.now() - mark
    assert.ok(writers.acks > acksAtPromotion, 'writes went on after the promotion')
    t.diagnostic(
      `promoted after ${promotedMs} ms; first ack ${firstAckMs} ms later, ${writers.acks - acksAtPromotion} acks by 1 s after it; ${writers.errors.length} writes failed; a writer went ${writers.longestGapMs()} ms without an answer; ${writers.notConfirmed} not confirmed; first error: ${writers.errors[0]?.message ?? 'none'}`,
    )
    mark = Date.now()
    await cache.flush()
    t.diagnostic(`stop ${stopMs} ms, flush ${Date.now() - mark} ms`)
    for (const error of writers.errors.filter((e) => e.message.includes('CLUSTERDOWN'))) assert.ok(error instanceof RedisClusterError && !error.applied, error.message)
    const rows = await stored(table)
    for (const key of keys) assert.ok((rows.get(key) ?? -1) >= (writers.acked.get(key) ?? 0), `${key}: stored ${rows.get(key)}, acknowledged ${writers.acked.get(key)}`)
    await cache.close()
    await victim.restart()
    await cluster.settle()
    await pool.query(`DROP TABLE ${table}`)
  })

  it('loses only writes reported not confirmed when a stalled replica is promoted (REDIS-TIER.md, "Testing for real")', async (t) => {
    const table = uniqueName('unconfirmed')
    const tier = new RedisTier({ client: fixture.client(), name: 'unconfirmed', shards: 32, replicaTimeoutMs: 300 })
    const cache = await WriteBehindCache.open({ store: new PostgresStore({ pool, table }), tier, durability: 'replicated', flush: { intervalMs: 60_000, maxDelayMs: 60_000 } })
    const victim = (await cluster.primaries())[0] as ClusterNode
    const [heir] = await cluster.replicasOf(victim)
    assert.ok(heir !== undefined)
    const owners = await Promise.all(Array.from({ length: 32 }, async (_, shard) => (await cluster.ownerOf(keySlot(tier.layout.dirty(shard)))).port))
    const keys = Array.from({ length: 200 }, (_, i) => `u:${i}`).filter((key) => owners[tier.layout.shardOf(key)] === victim.port)
    await Promise.all(keys.map((key) => cache.set(key, 1)))
    heir.pause()
    const admin = victim.client()
    await admin.call('CLIENT', 'KILL', 'TYPE', 'replica')
    admin.disconnect()
    const second = await Promise.allSettled(keys.map((key) => cache.set(key, 2)))
    const confirmed = new Map(keys.map((key, i) => [key, second[i]?.status === 'fulfilled' ? 2 : 1]))
    assert.ok(
      second.every((r) => r.status === 'fulfilled' || (r.reason instanceof ReplicationNotConfirmedError && r.reason.applied)),
      'a write the replica did not have is reported not confirmed, not failed',
    )
    await victim.crash()
    heir.resume()
    await cluster.settle(30_000)
    assert.equal(await heir.role(), 'primary')
    await cache.flush()
    const rows = await stored(table)
    const lost = keys.filter((key) => rows.get(key) !== 2).length
    t.diagnostic(`${keys.length} keys on the killed primary: ${[...confirmed.values()].filter((v) => v === 2).length} second writes confirmed, ${lost} second writes lost`)
    for (const key of keys) assert.ok((rows.get(key) ?? 0) >= (confirmed.get(key) ?? 0), `${key}: stored ${rows.get(key)}, confirmed ${confirmed.get(key)}`)
    await cache.close()
    await victim.restart()
    await cluster.settle()
    await pool.query(`DROP TABLE ${table}`)
  })
})
