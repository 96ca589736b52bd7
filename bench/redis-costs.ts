/**
 * What the Redis tier costs Redis per write and per flushed key, on a standalone server and on a
 * 3-primary cluster of its own (`npx tsx bench/redis-costs.ts [keys]`): the commands the clients
 * send (from every primary's INFO commandstats: EVALSHA, WAIT…; the commands scripts run inside are
 * counted apart), and the memory a dirty and then a clean key takes (used_memory before and after,
 * and MEMORY USAGE of entry hashes). 64 writers write `keys` distinct keys (a bench-sized value) with
 * nothing flushed, then `flush()` writes them all to an in-memory store. Prints a Markdown table.
 */
import { Cluster, Redis } from 'ioredis'
import { WriteBehindCache } from '../src/core/write-behind-cache.js'
import { RedisTier } from '../src/redis.js'
import { MemoryStore } from '../src/stores/memory-store.js'
import { infoFields } from '../src/tier/redis/startup.js'
import { startOwnCluster } from '../test/helpers/own-cluster.js'
import { startOwnRedis } from '../test/helpers/own-redis.js'

const KEYS = Number(process.argv[2] ?? 20_000)
const HELD = { intervalMs: 3_600_000, maxDelayMs: 3_600_000, triggerEntries: 10_000_000 }
/** Commands a client sends (the rest in commandstats ran inside scripts, or are this probe's own). */
const SENT = new Set(['evalsha', 'eval', 'wait', 'script', 'xrange'])

interface Totals {
  sent: number
  inner: number
  memory: number
}

async function totals(nodes: Redis[]): Promise<Totals> {
  const out = { sent: 0, inner: 0, memory: 0 }
  for (const node of nodes) {
    for (const [name, line] of infoFields(String(await node.info('commandstats')))) {
      const command = name.replace('cmdstat_', '')
      const calls = Number(/calls=(\d+)/.exec(line)?.[1] ?? 0)
      if (SENT.has(command)) out.sent += calls
      else if (!['info', 'ping', 'cluster', 'memory', 'config', 'command', 'hello', 'client', 'select', 'readonly'].includes(command)) out.inner += calls
    }
    out.memory += Number(infoFields(String(await node.info('memory'))).get('used_memory') ?? 0)
  }
  return out
}

async function measure(label: string, client: Redis | Cluster, nodes: Redis[], shards: number, durability: 'memory' | 'replicated'): Promise<string> {
  const tier = new RedisTier({ client, name: `costs-${durability}`, shards, replicaTimeoutMs: 5000 })
  const cache = await WriteBehindCache.open({ store: new MemoryStore(), tier, durability, flush: HELD, warn: () => {} })
  const before = await totals(nodes)
  let next = 0
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      for (let i = next++; i < KEYS; i = next++) await cache.set(`player:${i}`, { seq: i, score: i * 7 })
    }),
  )
  const written = await totals(nodes)
  const sample = Array.from({ length: 200 }, (_, i) => `player:${i * Math.floor(KEYS / 200)}`)
  const usage = async (): Promise<number> => {
    let sum = 0
    for (const key of sample) sum += Number(await client.call('MEMORY', 'USAGE', tier.layout.entry(tier.layout.shardOf(key), key)))
    return sum / sample.length
  }
  const dirtyEntry = await usage()
  await cache.flush()
  const flushed = await totals(nodes)
  const cleanEntry = await usage()
  await cache.close()
  const perKey = (a: number, b: number): string => ((b - a) / KEYS).toFixed(2)
  return `| ${label} | ${durability} | ${perKey(before.sent, written.sent)} | ${perKey(before.inner, written.inner)} | ${perKey(written.sent, flushed.sent)} | ${perKey(written.inner, flushed.inner)} | ${Math.round((written.memory - before.memory) / KEYS)} | ${Math.round(dirtyEntry)} | ${Math.round((flushed.memory - before.memory) / KEYS)} | ${Math.round(cleanEntry)} |`
}

const rows: string[] = []
const single = await startOwnRedis()
const replica = await startOwnRedis()
const cluster = await startOwnCluster()
try {
  const { replicate } = await import('../test/helpers/own-redis.js')
  await replicate(replica, single)
  const singleClient = single.client()
  for (const level of ['memory', 'replicated'] as const) rows.push(await measure('standalone', singleClient, [singleClient], 16, level))
  singleClient.disconnect()
  const clusterClient = cluster.client()
  const primaries = (await cluster.primaries()).map((node) => node.client())
  for (const level of ['memory', 'replicated'] as const) rows.push(await measure('cluster (3 primaries, 48 shards)', clusterClient, primaries, 48, level))
  for (const c of primaries) c.disconnect()
  clusterClient.disconnect()
} finally {
  await cluster.destroy()
  await replica.destroy()
  await single.destroy()
}
console.log(`${KEYS.toLocaleString('en-US')} distinct keys, 64 writers, values like {"seq":123,"score":861}; per key:\n`)
console.log(
  '| Redis | level | commands sent per write | commands run in scripts per write | commands sent per flushed key | run in scripts per flushed key | bytes per dirty key (used_memory) | entry hash, dirty (MEMORY USAGE) | bytes per clean key (used_memory) | entry hash, clean (MEMORY USAGE) |',
)
console.log('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|')
for (const row of rows) console.log(row)
