/**
 * The workloads: which key each writer writes next, and when it may write. Key streams are
 * seeded per writer, so a run's key sequence per writer is reproducible (the interleaving of
 * writers is not: it depends on each system's latency).
 */
import { seededRandom } from '../src/testing/seeded-random.js'

/** Picks keys for one writer. */
export interface KeyStream {
  next(): string
}

export interface Workload {
  readonly name: string
  /** One line for the README and the results. */
  readonly description: string
  /** A fresh key stream for writer `writer` (0-based). */
  keys(writer: number): KeyStream
  /** How long a writer must wait before writing at `elapsedMs` into the load (0: write now). */
  pauseAt(elapsedMs: number): number
}

export { seededRandom }

/** The cumulative distribution of a Zipf law over ranks 1..n with exponent s. */
export function zipfCdf(n: number, s: number): Float64Array {
  const cdf = new Float64Array(n)
  let sum = 0
  for (let rank = 1; rank <= n; rank++) {
    sum += 1 / Math.pow(rank, s)
    cdf[rank - 1] = sum
  }
  for (let i = 0; i < n; i++) cdf[i] = cdf[i]! / sum
  return cdf
}

/** The 0-based rank whose CDF bucket holds `u` (binary search). */
export function sampleCdf(cdf: Float64Array, u: number): number {
  let lo = 0
  let hi = cdf.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (cdf[mid]! < u) lo = mid + 1
    else hi = mid
  }
  return lo
}

const SEED = 20261123

function writerSeed(writer: number): number {
  return (SEED ^ Math.imul(writer + 1, 0x9e3779b9)) >>> 0
}

/** Keys drawn uniformly from `keySpace` keys. */
export function uniform(keySpace = 1_000_000): Workload {
  return {
    name: 'uniform',
    description: `uniform keys over ${keySpace.toLocaleString('en-US')} keys, writers never pause`,
    keys(writer) {
      const random = seededRandom(writerSeed(writer))
      return { next: () => `user:${Math.floor(random() * keySpace)}` }
    },
    pauseAt: () => 0,
  }
}

/** The leaderboard: `players` keys, Zipf-skewed with exponent `s`, a few players take most updates. */
export function zipf(players = 100_000, s = 1.1): Workload {
  const cdf = zipfCdf(players, s)
  return {
    name: 'zipf',
    description: `Zipf-skewed keys (leaderboard): ${players.toLocaleString('en-US')} players, s=${s}`,
    keys(writer) {
      const random = seededRandom(writerSeed(writer))
      return { next: () => `player:${sampleCdf(cdf, random())}` }
    },
    pauseAt: () => 0,
  }
}

/** On/off phases: writers go flat out for `onMs`, then stop for `offMs`; uniform keys. */
export function bursts(keySpace = 1_000_000, onMs = 1000, offMs = 1000): Workload {
  const base = uniform(keySpace)
  return {
    name: 'bursts',
    description: `bursts: ${onMs} ms flat out, ${offMs} ms idle, uniform keys over ${keySpace.toLocaleString('en-US')} keys`,
    keys: (writer) => base.keys(writer),
    pauseAt(elapsedMs) {
      const phase = elapsedMs % (onMs + offMs)
      return phase < onMs ? 0 : onMs + offMs - phase
    },
  }
}

/** Every workload, in the order the harness runs them. */
export function allWorkloads(): Workload[] {
  return [uniform(), zipf(), bursts()]
}
