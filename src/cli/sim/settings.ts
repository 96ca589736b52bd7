/**
 * The simulator's run settings: the defaults the page starts from, and the check of what a POST
 * sends (unknown fields and out-of-range values are refused with `InvalidOptionError`, naming the field).
 */
import type { Durability } from '../../contracts/options.js'
import { checkBoolean, checkNumber, invalid, oneOf } from '../../validate/check.js'
import type { SimSettings, SimStoreKind, WorkloadShape } from './protocol.js'

export const DEFAULT_SIM_SETTINGS: SimSettings = Object.freeze({
  workload: 'zipf',
  writers: 4,
  readShare: 0.2,
  keys: 10_000,
  durability: 'log',
  intervalMs: 1000,
  batchSize: 500,
  coalesce: true,
  store: 'sqlite',
  seed: 1,
})

const WORKLOADS: readonly WorkloadShape[] = ['uniform', 'zipf', 'bursts']
const LEVELS: readonly Durability[] = ['memory', 'log', 'disk', 'store']
const STORES: readonly SimStoreKind[] = ['sqlite', 'postgres']
const LIMITS: Readonly<Record<string, number>> = { writers: 64, readShare: 1, keys: 1_000_000, intervalMs: 60_000, batchSize: 10_000 }

/** `body` (parsed JSON) over the defaults; throws `InvalidOptionError` naming a bad field. */
export function parseSettings(body: unknown, base: SimSettings = DEFAULT_SIM_SETTINGS): SimSettings {
  const input = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
  for (const name of Object.keys(input)) if (!(name in base)) throw invalid(name, `one of ${Object.keys(base).join(', ')}`, name)
  const number = (name: keyof SimSettings, rule: { min?: number; above?: number; integer?: boolean }): number => {
    const value = checkNumber(input[name], name, { ...rule, finite: true }) ?? (base[name] as number)
    const max = LIMITS[name]
    if (max !== undefined && value > max) throw invalid(name, `at most ${max}`, value)
    return value
  }
  return {
    workload: oneOf(input.workload, 'workload', WORKLOADS) ?? base.workload,
    writers: number('writers', { min: 1, integer: true }),
    readShare: number('readShare', { min: 0 }),
    keys: number('keys', { min: 1, integer: true }),
    durability: oneOf(input.durability, 'durability', LEVELS) ?? base.durability,
    intervalMs: number('intervalMs', { min: 10, integer: true }),
    batchSize: number('batchSize', { min: 1, integer: true }),
    coalesce: checkBoolean(input.coalesce, 'coalesce') ?? base.coalesce,
    store: oneOf(input.store, 'store', STORES) ?? base.store,
    seed: number('seed', { integer: true, min: 0 }),
  }
}
