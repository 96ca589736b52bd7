import { WriteBehindCache } from '../src/core/write-behind-cache.js'
import { RedisTier } from '../src/redis.js'
import { MemoryStore } from '../src/stores/memory-store.js'
import { keySlot } from '../src/tier/redis/key-slot.js'
import { startOwnCluster } from './helpers/own-cluster.js'
const cluster = await startOwnCluster()
const client = cluster.client()
const tier = new RedisTier({ client, name: 'f', shards: 32, replicaTimeoutMs: 1000 })
const cache = await WriteBehindCache.open({ store: new MemoryStore(), tier, durability: process.env.LEVEL as 'replicated' ?? 'replicated', flush: { intervalMs: 20 } })
const victim = await cluster.ownerOf(keySlot(tier.layout.dirty(0)))
const victimKeys = Array.from({ length: 120 }, (_, i) => `acct:${i}`)
let stopped = false; let killedAt = 0
const rel = () => killedAt === 0 ? -1 : Date.now() - killedAt
const loops = Array.from({ length: 6 }, async (_, w) => {
  for (let n = 1; !stopped; n++) for (const key of victimKeys.filter((_, i) => i % 6 === w)) {
    const t0 = Date.now(); let outcome = 'ok'
    try { await cache.set(key, n) } catch (e) { outcome = (e as Error).message.slice(0, 100) }
    const d = Date.now() - t0
    if (d > 2500 || (outcome !== 'ok' && !outcome.includes('acknowledged'))) console.log(`w${w} start@${rel() - d} took ${d} ${key} shard ${tier.layout.shardOf(key)} ${outcome}`)
  }
})
await new Promise((r) => setTimeout(r, 500))
killedAt = Date.now(); await victim.crash(); await cluster.settle(30000); console.log('settled at', rel())
await new Promise((r) => setTimeout(r, 1000)); stopped = true; await Promise.all(loops); console.log('stopped at', rel())
await cache.close(); client.disconnect(); await cluster.destroy()
