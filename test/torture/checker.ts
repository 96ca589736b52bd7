/**
 * The fault harness's checker, after the faults stopped, everything healed and a clean process
 * flushed: per level, acknowledged writes lost (the store's row for the key holds a lower version,
 * or there is none), writes not confirmed (and how many of them were lost), failed writes, stale
 * overwrites (the audit trigger saw a row's version go down), stored versions holding another value
 * than the one written with them, and whether Redis agrees with the store and nothing is dirty.
 *
 * Targets (`met`): no stale overwrite, no wrong value and no hung write at any level, nothing dirty, Redis equal to
 * the store, and no acknowledged write lost at a level that promises to survive the faults the run
 * injected (`promisesNoLoss`), at the end or at any failover (failover-cost.ts). Loss at the other levels is counted and printed, never hidden.
 */
import type { Durability } from '../../src/contracts/options.js'
import type { AuditRow, StoredRow } from '../helpers/audited-table.js'
import type { FailoverCost } from './failover-cost.js'
import type { History } from './history.js'
import { parseTortureKey } from './protocol.js'

/** A fault the nemesis can inject, by name (nemesis.ts). */
export type FaultName = 'kill-app' | 'pause-app' | 'kill-flusher' | 'pause-flusher' | 'kill-primary' | 'failover' | 'lagging-failover' | 'kill-replica' | 'pause-replica' | 'stop-store' | 'power-cut'

/** The state after the run, once healed and flushed. */
export interface FinalState {
  readonly rows: ReadonlyMap<string, StoredRow>
  readonly audit: readonly AuditRow[]
  /** Dirty keys left after the clean flush. */
  readonly dirty: number
  /** Redis tier: each harness key's entry in Redis (absent: not cached). */
  readonly redis?: ReadonlyMap<string, { readonly encoded: string | null; readonly version: number }>
}

export interface LevelReport {
  readonly level: Durability
  readonly acked: number
  readonly lost: number
  readonly lostKeys: number
  readonly notConfirmed: number
  readonly notConfirmedLost: number
  readonly failed: number
  /** Writes whose promise did not settle until their cache was closed under them. */
  readonly hung: number
  readonly staleOverwrites: number
  readonly wrongValues: number
  readonly redisMismatches: number
  /** The first key of each kind of miss, described. */
  readonly examples: { readonly stale?: string; readonly wrong?: string; readonly mismatch?: string }
  /** Whether this level promises zero loss under the faults injected. */
  readonly promisesNoLoss: boolean
  readonly met: boolean
}

export interface CheckReport {
  readonly levels: readonly LevelReport[]
  readonly dirty: number
  readonly met: boolean
  /** Why a target was missed, one line each. */
  readonly misses: readonly string[]
}

/**
 * Whether `level` promises that no acknowledged write is lost under `faults` (README, durability
 * tables): `memory` never does; `log` does unless the power was cut; `disk`, `replicated` (writes
 * reported not confirmed apart) and `store` always do.
 */
export function promisesNoLoss(level: Durability, faults: ReadonlySet<FaultName>): boolean {
  if (level === 'memory') return false
  if (level === 'log') return !faults.has('power-cut')
  return true
}

export function check(history: History, final: FinalState, faults: ReadonlySet<FaultName>, failovers: readonly FailoverCost[] = []): CheckReport {
  const misses: string[] = []
  for (const cost of failovers) {
    for (const l of cost.levels)
      if (l.lost > 0 && promisesNoLoss(l.level, faults)) misses.push(`${l.level}: ${l.lost} acknowledged write(s) lost in the failover at ${(cost.atMs / 1000).toFixed(1)} s`)
  }
  const levels = history.names.map((level) => checkLevel(level, history, final, faults))
  for (const r of levels) {
    if (!r.promisesNoLoss || r.lost === 0) continue
    misses.push(`${r.level}: ${r.lost} acknowledged write(s) lost on ${r.lostKeys} key(s)`)
  }
  for (const r of levels) if (r.staleOverwrites > 0) misses.push(`${r.level}: ${r.staleOverwrites} stale overwrite(s): a stored version went down, e.g. ${r.examples.stale}`)
  for (const r of levels) if (r.wrongValues > 0) misses.push(`${r.level}: ${r.wrongValues} row(s) hold another value than the write of their version, e.g. ${r.examples.wrong}`)
  for (const r of levels) if (r.redisMismatches > 0) misses.push(`${r.level}: ${r.redisMismatches} key(s) where Redis differs from the store, e.g. ${r.examples.mismatch}`)
  for (const r of levels) if (r.hung > 0) misses.push(`${r.level}: ${r.hung} write(s) never settled until their cache was closed under them`)
  if (final.dirty !== 0) misses.push(`${final.dirty} key(s) still dirty after the clean flush`)
  return { levels: levels.map((r) => ({ ...r, met: r.met && final.dirty === 0 })), dirty: final.dirty, met: misses.length === 0, misses }
}

function checkLevel(level: Durability, history: History, final: FinalState, faults: ReadonlySet<FaultName>): LevelReport {
  const recorded = history.level(level)
  let keys = recorded.keyCount
  for (const key of final.rows.keys()) keys = Math.max(keys, (parseTortureKey(key)?.index ?? -1) + 1)
  const stored = new Float64Array(keys)
  let wrongValues = 0
  let wrong: string | undefined
  for (const [key, row] of final.rows) {
    const parsed = parseTortureKey(key)
    if (parsed?.level !== level || parsed.index >= keys) continue
    stored[parsed.index] = row.version
    const written = recorded.values.get(`${parsed.index}:${row.version}`)
    if (written !== undefined && written !== (row.deleted ? null : row.value)) {
      wrongValues++
      wrong ??= `${key} at ${row.version}: stored ${row.deleted ? 'deleted' : JSON.stringify(row.value)}, written ${JSON.stringify(written)}`
    }
  }
  const lost = recorded.acked.check(stored)
  const notConfirmedLost = recorded.notConfirmed.check(stored).lost
  const stale = final.audit.filter((a) => parseTortureKey(a.key)?.level === level && a.newVersion < a.oldVersion)
  const staleOverwrites = stale.length
  const mismatches = final.redis === undefined ? [] : redisMismatches(level, final.rows, final.redis)
  const promises = promisesNoLoss(level, faults)
  return {
    level,
    acked: recorded.acked.count,
    lost: lost.lost,
    lostKeys: lost.lostKeys,
    notConfirmed: recorded.notConfirmed.count,
    notConfirmedLost,
    failed: recorded.failedCount,
    hung: recorded.hung,
    staleOverwrites,
    wrongValues,
    redisMismatches: mismatches.length,
    examples: {
      ...(stale[0] === undefined ? {} : { stale: `${stale[0].key}: ${stale[0].oldVersion} → ${stale[0].newVersion}` }),
      ...(wrong === undefined ? {} : { wrong }),
      ...(mismatches[0] === undefined ? {} : { mismatch: mismatches[0] }),
    },
    promisesNoLoss: promises,
    met: (!promises || lost.lost === 0) && staleOverwrites === 0 && wrongValues === 0 && mismatches.length === 0 && recorded.hung === 0,
  }
}

/** Keys of `level` cached in Redis at another version or value than the store's row, each described. */
function redisMismatches(level: Durability, rows: ReadonlyMap<string, StoredRow>, redis: NonNullable<FinalState['redis']>): string[] {
  const mismatches: string[] = []
  for (const [key, entry] of redis) {
    if (parseTortureKey(key)?.level !== level) continue
    const row = rows.get(key)
    const same = row !== undefined && row.version === entry.version && (row.deleted ? entry.encoded === null : entry.encoded !== null && JSON.stringify(row.value) === entry.encoded)
    if (same) continue
    const stored = row === undefined ? 'no row' : `${row.version} ${row.deleted ? 'deleted' : JSON.stringify(row.value)}`
    mismatches.push(`${key}: Redis ${entry.version} ${entry.encoded ?? 'deleted'}, store ${stored}`)
  }
  return mismatches
}
