/**
 * The demo's leaderboard workload: W async writers, each picking a player from a Zipf sampler and
 * writing `player:<id>` = `{ score, updatedAt }`, where `score` counts that player's updates. The
 * demo keeps the last value it wrote for every player, so the final state of the database is
 * known exactly and can be checked, and it times every acknowledgement.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import type { WriteBehindCache } from '../core/write-behind-cache.js'
import { LatencyHistogram } from './latency.js'
import { ZipfSampler } from './zipf.js'

/** A player's value as the demo writes it. */
export interface PlayerValue {
  score: number
  updatedAt: number
}

/** Writers yield to the event loop this often, so that timers (flushes, progress) run even when acks are immediate. */
const YIELD_EVERY = 256

/** What the demo wrote: the last value per player, and how every ack went. */
export class Leaderboard {
  /** Last score written per player; 0 = never written. */
  readonly scores: Uint32Array
  /** `updatedAt` of that last write. */
  readonly updatedAt: Float64Array
  readonly latency = new LatencyHistogram()
  /** Writes whose promise resolved. */
  acked = 0

  constructor(readonly players: number) {
    this.scores = new Uint32Array(players)
    this.updatedAt = new Float64Array(players)
  }

  /** Distinct players written at least once. */
  distinctPlayers(): number {
    let n = 0
    for (const score of this.scores) if (score > 0) n++
    return n
  }
}

export interface WorkloadOptions {
  writers: number
  zipf: number
  seed: number
  /** Writers stop starting new writes at this `performance.now()` time. */
  deadline: number
  /** Stops the writers early (Ctrl-C). */
  signal?: AbortSignal
}

/** The key of player `id`. */
export function playerKey(id: number): string {
  return `player:${id}`
}

/**
 * Runs the writers until the deadline or the signal; resolves when every writer's last write is
 * acknowledged. The first failed write stops all writers and rejects with its error.
 */
export async function runWorkload(cache: WriteBehindCache<PlayerValue>, board: Leaderboard, options: WorkloadOptions): Promise<void> {
  const sampler = new ZipfSampler(board.players, options.zipf, options.seed)
  const failed = new AbortController()
  const stop = options.signal === undefined ? failed.signal : AbortSignal.any([failed.signal, options.signal])
  const writers = Array.from({ length: options.writers }, () =>
    writer(cache, board, sampler, options.deadline, stop).catch((error: unknown) => {
      failed.abort()
      throw error
    }),
  )
  const results = await Promise.allSettled(writers)
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failure !== undefined) throw failure.reason
}

async function writer(cache: WriteBehindCache<PlayerValue>, board: Leaderboard, sampler: ZipfSampler, deadline: number, stop: AbortSignal): Promise<void> {
  for (let i = 1; !stop.aborted && performance.now() < deadline; i++) {
    const id = sampler.next()
    // The counter moves before set() is called, and set() versions synchronously, so the
    // highest score of a player is also its newest version: the value the store must end with.
    const score = (board.scores[id] as number) + 1
    const updatedAt = Date.now()
    board.scores[id] = score
    board.updatedAt[id] = updatedAt
    const started = performance.now()
    await cache.set(playerKey(id), { score, updatedAt })
    board.latency.record(performance.now() - started)
    board.acked++
    if (i % YIELD_EVERY === 0) await yieldToLoop()
  }
}
