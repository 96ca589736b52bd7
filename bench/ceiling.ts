/**
 * `pg-ceiling`: not a system users would pick but a probe of the machine. Two connections send
 * PostgreSQL the peers' fenced 500-row upsert (`upsertRows`, one row per write, keys from the
 * workload's own streams) back to back for the load's duration, with no cache, no acknowledgement
 * and no other work in the process. Its rows/s is what PostgreSQL on this machine absorbs when
 * every write is its own row: no system that writes one row per write can sustain more, however
 * it batches. A write-behind cache can exceed it only for as long as its backlog can grow, or by
 * coalescing (fewer rows than writes). Its "writes/s" column is that rows/s; it has no latency.
 */
import { performance } from 'node:perf_hooks'
import type pg from 'pg'
import type { LoadResult, LoadWindow } from './driver.js'
import { CountingPool, openPool, resetPeerTable, tableFor, tuplesWritten, upsertRows, type Row, type WriteCounters } from './lib/pg.js'
import type { BenchValue, TableInfo } from './systems/types.js'
import type { Workload } from './workloads.js'

export const CEILING = 'pg-ceiling'
const CONNECTIONS = 2
const BATCH = 500

export interface CeilingRun {
  readonly info: TableInfo
  readonly load: LoadResult
  readonly counted: WriteCounters
  /** The table's `n_tup_ins + n_tup_upd` before the probe wrote (PostgreSQL keeps it across TRUNCATE). */
  readonly tuplesBefore: number
}

/** Runs the probe against a fresh table and returns what it committed, shaped like a load; `window` brackets the upserts. */
export async function measureCeiling(workload: Workload, durationMs: number, admin: pg.Pool, window?: LoadWindow): Promise<CeilingRun> {
  const table = tableFor(CEILING)
  await resetPeerTable(admin, table)
  const tuplesBefore = await tuplesWritten(admin, table)
  const db = new CountingPool(openPool(CONNECTIONS))
  const lastAcked = new Map<string, BenchValue>()
  let seq = 0
  let committed = 0
  window?.begin()
  const start = performance.now()
  const connection = async (id: number): Promise<void> => {
    const keys = workload.keys(id)
    while (performance.now() - start < durationMs) {
      const rows: Row[] = []
      const values: [string, BenchValue][] = []
      for (let i = 0; i < BATCH; i++) {
        const value: BenchValue = { seq: ++seq, score: (seq * 7919) % 1_000_003 }
        const key = keys.next()
        rows.push({ key, value: JSON.stringify(value), version: value.seq })
        values.push([key, value])
      }
      await upsertRows(db, table, rows)
      committed += BATCH
      for (const [key, value] of values) {
        const seen = lastAcked.get(key)
        if (seen === undefined || seen.seq < value.seq) lastAcked.set(key, value)
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: CONNECTIONS }, (_, id) => connection(id)))
    window?.end()
  } finally {
    await db.end()
  }
  const elapsedMs = performance.now() - start
  const load: LoadResult = { acked: committed, failed: 0, elapsedMs, latencies: new Float64Array(0), lastAcked, counts: new Map(), failedKeys: new Set(), firstError: undefined }
  return { info: { table, keyColumn: 'key', valueColumn: 'value' }, load, counted: { ...db.counters }, tuplesBefore }
}
