/**
 * The fault harness (test/torture/, `npm run torture`) in its short form: a few tens of seconds of
 * faults on standalone Redis (a primary and a replica of its own) and on the embedded tier, with the
 * harness's own PostgreSQL, asserting the targets: no acknowledged write lost at `replicated`
 * (writes reported not confirmed apart) nor at `disk`/`store`, no stale overwrite at any level,
 * nothing dirty after the clean flush, Redis equal to the store; the loss at `memory` is counted.
 *
 * The forced failovers (the replica promoted while the primary still takes writes, or after it was
 * cut off) are run apart: the promoted replica holds clean entries older than what the old primary
 * flushed to the store just before; the tier must notice (trust epochs) and serve the store's.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { FaultName } from '../torture/checker.js'
import { runTorture, type TortureResult } from '../torture/harness.js'
import { formatReport } from '../torture/report.js'

function assertTargets(result: TortureResult, faults: readonly FaultName[]): void {
  const text = formatReport(result)
  assert.equal(result.report.met, true, text)
  const injected = new Set(result.faults.map((f) => f.fault))
  for (const fault of faults) assert.ok(injected.has(fault), `${fault} was injected:\n${text}`)
  for (const level of result.report.levels) assert.ok(level.acked > 0, `${level.level} writes were acknowledged:\n${text}`)
}

describe('the fault harness, short form', () => {
  it('standalone Redis: apps, flusher, primary and replica killed and paused, store stopped', { timeout: 240_000 }, async () => {
    const faults: FaultName[] = ['kill-primary', 'kill-app', 'kill-flusher', 'pause-replica', 'stop-store']
    const result = await runTorture({ tier: 'redis', durationMs: 25_000, seed: 16, writers: 2, levels: ['memory', 'replicated', 'store'], faults })
    assertTargets(result, faults)
    assert.ok(result.failovers.length >= 1, 'the failover was measured')
  })

  it('embedded tier: apps killed with -9, power cut of the log, store stopped', { timeout: 240_000 }, async () => {
    const faults: FaultName[] = ['kill-app', 'power-cut', 'stop-store']
    const result = await runTorture({ tier: 'embedded', durationMs: 15_000, seed: 16, writers: 2, levels: ['memory', 'log', 'disk', 'store'], faults })
    assertTargets(result, faults)
  })

  it('standalone Redis, forced failovers: the promoted replica serves what the store already has newer', { timeout: 240_000 }, async () => {
    const faults: FaultName[] = ['lagging-failover', 'failover']
    const result = await runTorture({ tier: 'redis', durationMs: 15_000, seed: 5, writers: 2, levels: ['memory', 'replicated', 'store'], faults })
    assertTargets(result, faults)
  })
})
