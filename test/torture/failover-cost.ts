/**
 * What a failover cost, measured at the moment it happened: once the replica is promoted and before
 * any app reaches it, every write recorded as acknowledged (or not confirmed) so far is checked
 * against the higher of the version the new primary holds for its key and the store's. A write
 * below both is lost in this failover, whatever later writes of its key would hide at the end of
 * the run. Writes still on their way to the harness are not counted (so it is a lower bound).
 */
import type pg from 'pg'
import type { Durability } from '../../src/contracts/options.js'
import { RedisLayout } from '../../src/tier/redis/layout.js'
import type { OwnRedis } from '../helpers/own-redis.js'
import type { History } from './history.js'
import { tortureKey } from './protocol.js'

export interface FailoverCost {
  /** Milliseconds since the run started. */
  readonly atMs: number
  /** Per level: writes acknowledged so far that are lost by now (this failover's and earlier ones'), and writes reported not confirmed that are lost. */
  readonly levels: ReadonlyArray<{ readonly level: Durability; readonly acked: number; readonly lost: number; readonly notConfirmedLost: number }>
}

export interface CostSource {
  readonly history: History
  readonly layout: RedisLayout
  readonly pool: pg.Pool
  readonly table: string
}

export async function failoverCost(source: CostSource, promoted: OwnRedis, atMs: number): Promise<FailoverCost> {
  const { history, layout, pool, table } = source
  // Only writes recorded before anything is read: one recorded later may have landed after the reads.
  const bounds = new Map(history.names.map((level) => [level, { acked: history.level(level).acked.count, notConfirmed: history.level(level).notConfirmed.count }]))
  const held = new Map<string, number>()
  const { rows } = await pool.query<{ key: string; version: string }>(`SELECT key, version FROM ${table}`)
  for (const row of rows) held.set(row.key, Number(row.version))
  const client = promoted.client()
  try {
    const levels = []
    for (const level of history.names) {
      const keys = history.level(level).keyCount
      const names = Array.from({ length: keys }, (_, i) => tortureKey(level, i))
      const pipeline = client.pipeline()
      for (const key of names) pipeline.hget(layout.entry(layout.shardOf(key), key), 'ver')
      const replies = (await pipeline.exec()) ?? []
      const versions = new Float64Array(keys)
      names.forEach((key, i) => (versions[i] = Math.max(Number(replies[i]?.[1] ?? 0), held.get(key) ?? 0)))
      const recorded = history.level(level)
      const bound = bounds.get(level) ?? { acked: 0, notConfirmed: 0 }
      const none = new Set<number>()
      const lost = recorded.acked.check(versions, none, bound.acked).lost
      levels.push({ level, acked: bound.acked, lost, notConfirmedLost: recorded.notConfirmed.check(versions, none, bound.notConfirmed).lost })
    }
    return { atMs, levels }
  } finally {
    client.disconnect()
  }
}
