// Crash recovery with a real kill -9 (invariants 1, 2 and 8). A child process writes through a
// cache with a dirty log and a SQLite store, at durability `log` and `disk`, with 8 concurrent
// writers, fast flushing and small segments, and reports each write after it was acknowledged.
// It is killed with SIGKILL at a random moment; a fresh cache then recovers a copy of its dir and
// database, flushes, and every key must hold its last acknowledged write or a later one, and a
// new write must get a version above everything in the table. Chains of two kills on one dir
// make a child recover a crashed log and be killed in turn.
//
// Seeds are random per run and printed; rerun one with WB_CRASH_SEED=<seed>. For hundreds of
// kills use `npx tsx scripts/crash-loop.ts --kills 200`.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { describeKill, runTrial, type KillResult } from './crash-harness.js'

const TRIALS_PER_LEVEL = 6
const KILLS_PER_TRIAL = 2
const BASE_SEED = Number(process.env.WB_CRASH_SEED ?? Math.floor(Math.random() * 1_000_000))

function report(result: KillResult): void {
  console.log(describeKill(result))
  for (const failure of result.failures) console.log(`  ${failure}`)
}

for (const durability of ['log', 'disk'] as const) {
  describe(`kill -9 at durability ${durability}`, () => {
    for (let trial = 0; trial < TRIALS_PER_LEVEL; trial++) {
      const seed = BASE_SEED + trial + (durability === 'disk' ? 1000 : 0)
      it(`loses no acknowledged write over ${KILLS_PER_TRIAL} kills in a row (seed ${seed})`, async () => {
        const results = await runTrial({ seed, durability, kills: KILLS_PER_TRIAL, delayMs: [100, 600], onKill: report })
        assert.equal(results.length, KILLS_PER_TRIAL)
        for (const result of results) assert.deepEqual(result.failures, [], `seed ${seed}, run ${result.run}: ${describeKill(result)}`)
        assert.ok(
          results.some((r) => r.acked > 0),
          'the children acknowledged writes before being killed',
        )
        const recovered = results.reduce((sum, r) => sum + r.recoveredRecords, 0)
        assert.ok(recovered > 0, 'the log held writes to recover: the kills landed before everything was flushed')
      })
    }
  })
}
