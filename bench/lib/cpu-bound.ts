/**
 * What a run's measured CPU costs allow: the rate a system could reach if it had the whole
 * machine, given its CPU per write (or per row) in each group of processes. Two bounds: all cores
 * ÷ the total cost, and Redis's one command thread ÷ Redis's cost; the smaller one bounds the
 * system. Pure arithmetic, so the report and its tests share it.
 */
import type { CpuWindow } from './cpu.js'

/** CPU µs per item (an acknowledged write, or a committed row) in each group. */
export interface CpuPerItem {
  readonly appUs: number
  readonly redisUs: number
  readonly pgUs: number
}

/**
 * A window's CPU divided by the items it handled; NaN throughout when it handled none, and for a
 * group that did not run (NaN, which a window read back from JSON holds as null).
 */
export function perItem(window: CpuWindow, items: number): CpuPerItem {
  const per = (us: number | null): number => (items > 0 && typeof us === 'number' && Number.isFinite(us) ? us / items : Number.NaN)
  return { appUs: per(window.appUs), redisUs: per(window.redisUs), pgUs: per(window.pgUs) }
}

/** The cores a window's measured processes kept busy on average (app + Redis + its PostgreSQL backends ÷ the window's length); the rest of the machine's busy cores was other work. */
export function ownCores(window: CpuWindow, ms: number): number {
  const redis = Number.isFinite(window.redisUs) ? window.redisUs : 0
  return ms > 0 ? (window.appUs + redis + window.pgUs) / (ms * 1000) : Number.NaN
}

export interface CpuBound {
  /** cores × 1e6 ÷ (app + Redis + PostgreSQL µs per item): items/s with every core busy on this alone. */
  readonly machine: number
  /** 1e6 ÷ Redis µs per item: items/s with Redis's command thread always busy; Infinity when Redis cost nothing or did not run. */
  readonly redis: number
  /** The smaller of the two, and which one it is. */
  readonly bound: number
  readonly boundBy: 'machine' | 'redis'
  /** bound ÷ `reference` (the rate the system is read against, from the same run). */
  readonly vsReference: number
}

/** The bound implied by `cost` on a machine of `cores` cores, read against `reference` items/s. */
export function cpuBound(cost: CpuPerItem, cores: number, reference: number): CpuBound {
  const redisUs = Number.isNaN(cost.redisUs) ? 0 : cost.redisUs
  const total = cost.appUs + redisUs + cost.pgUs
  const machine = total > 0 ? (cores * 1e6) / total : Number.NaN
  const redis = redisUs > 0 ? 1e6 / redisUs : Number.POSITIVE_INFINITY
  const boundBy = redis < machine ? 'redis' : 'machine'
  const bound = Math.min(machine, redis)
  return { machine, redis, bound, boundBy, vsReference: bound / reference }
}
