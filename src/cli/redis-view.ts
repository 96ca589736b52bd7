/**
 * What `writebehind inspect --redis` shows of a Redis tier: per shard the dirty keys, the oldest
 * dirty age, the dead letters and the lease holder (instance token and ms left), with totals and
 * the layout's format. Plain reads (ZCARD, ZRANGE, XLEN, GET, PTTL, TIME) in one pipeline: no
 * script, no lease, nothing written.
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

export async function readRedisView({ client, layout, format, url }: RedisTarget): Promise<RedisView> {
  const pipeline = client.pipeline()
  pipeline.call('TIME')
  for (let shard = 0; shard < layout.shards; shard++) {
    pipeline.call('ZCARD', layout.dirty(shard))
    pipeline.call('ZRANGE', layout.dirty(shard), 0, 0, 'WITHSCORES')
    pipeline.call('XLEN', layout.dlq(shard))
    pipeline.call('GET', layout.lease(shard))
    pipeline.call('PTTL', layout.lease(shard))
  }
  const results = (await pipeline.exec()) ?? []
  const replies = results.map(([error, value]) => {
    if (error !== null) throw error
    return value
  })
  const [seconds, micros] = replies[0] as [string, string]
  const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
  const shards: ShardView[] = []
  for (let shard = 0; shard < layout.shards; shard++) {
    const [count, oldest, letters, holder, ttl] = replies.slice(1 + shard * 5, 6 + shard * 5) as [number, string[], number, string | null, number]
    shards.push({
      shard,
      dirtyKeys: Number(count),
      oldestDirtyAgeMs: oldest.length >= 2 ? Math.max(0, now - Number(oldest[1])) : null,
      deadLetters: Number(letters),
      lease: holder === null ? null : { instance: holder, ttlMs: Number(ttl) },
    })
  }
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
