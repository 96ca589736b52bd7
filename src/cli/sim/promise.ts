/**
 * What each durability level promises about a crash, as a loss window to set beside the measured
 * one (README, "What it promises"): how old the oldest acknowledged write a crash may lose can be.
 */
import type { Durability } from '../../contracts/options.js'

/** The crash a run ended with (`none`: stopped and drained). */
export type CrashKind = 'kill' | 'power' | 'none'

export interface PromisedLoss {
  /** The window in ms; null when the level sets no bound; 0 when it loses nothing. */
  readonly ms: number | null
  readonly text: string
}

export function promisedLoss(durability: Durability, crash: CrashKind, maxDelayMs: number): PromisedLoss {
  if (crash === 'none') return { ms: 0, text: 'nothing (clean close drains)' }
  if (durability === 'memory') return { ms: maxDelayMs, text: `the backlog: up to flush.maxDelayMs (${maxDelayMs} ms) while the store keeps up` }
  if (durability === 'log' && crash === 'power') return { ms: null, text: 'writes since the last fsync (no syncIntervalMs: unbounded)' }
  if (durability === 'log') return { ms: 0, text: 'nothing: the next open replays the log' }
  return { ms: 0, text: 'nothing acknowledged' }
}
