/**
 * What `writebehind inspect --redis` shows of a Redis tier: per shard the dirty keys, the oldest
 * dirty age, the dead letters and the lease holder (instance token and ms left), with totals and
 * the layout's format. Plain reads (TIME, ZCARD, ZRANGE, XLEN, GET, PTTL), one pipeline per shard
 * (a shard's keys share a hash tag, so on a Cluster each pipeline goes to the shard's primary, and
 * its age is measured by that node's clock): no script, no lease, nothing written.
 */
import type { RedisTarget } from './redis-target.js'

export interface ShardView {
  readonly shard: number
  readonly dirtyKeys: number
  /**
   * Age of the shard's oldest dirty key (ms, by Redis' clock), or null when none is dirty. A key
   * backing off after a failed flush is scored by the end of its backoff, so it counts from then
   * (0 while it waits).
   */
  readonly oldestDirtyAgeMs: number | null
  readonly deadLetters: number
  /** The flushing instance's token (`pid:random`) and its lease's ms left, or null when no one holds it. */
  readonly lease: { readonly instance: string; readonly ttlMs: number } | null
}

export interface RedisView {
  readonly redis: string
  readonly name: string
  readonly format: number
  readonly shardCount: number
  readonly dirtyKeyCount: number
  readonly oldestDirtyAgeMs: number | null
  readonly deadLetters: number
  readonly shards: readonly ShardView[]
}

/** Reads every shard in parallel (one step: `--timeout-ms` bounds it, exit 69 past it). */
export async function readRedisView({ client, layout, format, url, within }: RedisTarget): Promise<RedisView> {
  const shards = await within(Promise.all(Array.from({ length: layout.shards }, (_, shard) => readShard(client, layout, shard))))
  const ages = shards.flatMap((s) => (s.oldestDirtyAgeMs === null ? [] : [s.oldestDirtyAgeMs]))
  return {
    redis: url,
    name: layout.name,
    format,
    shardCount: layout.shards,
    dirtyKeyCount: shards.reduce((n, s) => n + s.dirtyKeys, 0),
    oldestDirtyAgeMs: ages.length === 0 ? null : Math.max(...ages),
    deadLetters: shards.reduce((n, s) => n + s.deadLetters, 0),
    shards,
  }
}

/** One shard's figures, in one pipeline of keys of its hash tag (so one node's, with that node's TIME first). */
async function readShard(client: RedisTarget['client'], layout: RedisTarget['layout'], shard: number): Promise<ShardView> {
  const pipeline = client.pipeline()
  pipeline.call('ZCARD', layout.dirty(shard))
  pipeline.call('TIME')
  pipeline.call('ZRANGE', layout.dirty(shard), 0, 0, 'WITHSCORES')
  pipeline.call('XLEN', layout.dlq(shard))
  pipeline.call('GET', layout.lease(shard))
  pipeline.call('PTTL', layout.lease(shard))
  const results = (await pipeline.exec()) ?? []
  const [count, [seconds, micros], oldest, letters, holder, ttl] = results.map(([error, value]) => {
    if (error !== null) throw error
    return value
  }) as [number, [string, string], string[], number, string | null, number]
  const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
  return {
    shard,
    dirtyKeys: Number(count),
    oldestDirtyAgeMs: oldest.length >= 2 ? Math.max(0, now - Number(oldest[1])) : null,
    deadLetters: Number(letters),
    lease: holder === null ? null : { instance: holder, ttlMs: Number(ttl) },
  }
}

export function formatRedisView(view: RedisView): string {
  const lines = [`redis ${view.redis}  cache "${view.name}"  format ${view.format}`, `shards: ${view.shardCount}`]
  lines.push(`dirty keys: ${view.dirtyKeyCount}`)
  lines.push(`oldest dirty age: ${view.oldestDirtyAgeMs === null ? 'none dirty' : `${view.oldestDirtyAgeMs} ms`}`)
  lines.push(`dead letters: ${view.deadLetters}`)
  for (const s of view.shards) {
    const age = s.oldestDirtyAgeMs === null ? '' : `  oldest ${s.oldestDirtyAgeMs} ms`
    const lease = s.lease === null ? 'lease: none' : `lease: ${s.lease.instance} (ttl ${s.lease.ttlMs} ms)`
    lines.push(`  shard ${s.shard}  dirty ${s.dirtyKeys}${age}  dead letters ${s.deadLetters}  ${lease}`)
  }
  return `${lines.join('\n')}\n`
}
