/**
 * The kill -9 check of test/durability/crash-recovery.test.ts, in a loop:
 *
 *   npx tsx scripts/crash-loop.ts --kills 200 [--durability log|disk|both] [--seed N] [--chain 3]
 *   npx tsx scripts/crash-loop.ts --seed 1234 --durability disk --kills 3   # rerun a failing seed
 *
 * Trials of `--chain` kills in a row on one dir (a child recovers what the previous one left),
 * with kill delays from 0 to 1500 ms after the child is ready, so some kills land during the
 * replay flush and the first checkpoint, others after the next one. `both` alternates levels.
 * Prints a progress line, then kills done, failures with the seeds to rerun, and acked writes.
 * Exits 1 if any kill found a lost, stale or corrupt write, or versions going backwards.
 */
import { parseArgs } from 'node:util'
import { describeKill, runTrial, type KillResult } from '../test/durability/crash-harness.js'
import type { CrashDurability } from '../test/durability/crash-protocol.js'

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '200' },
    durability: { type: 'string', default: 'both' },
    seed: { type: 'string' },
    chain: { type: 'string', default: '3' },
    verbose: { type: 'boolean', default: false },
  },
})

function positive(name: string, text: string | undefined): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 1) throw new TypeError(`--${name} must be a positive integer; got ${text}`)
  return n
}

const kills = positive('kills', values.kills)
const chain = positive('chain', values.chain)
const baseSeed = values.seed === undefined ? Math.floor(Math.random() * 1_000_000) : positive('seed', values.seed)
if (!['log', 'disk', 'both'].includes(values.durability)) throw new TypeError('--durability must be log, disk or both')
const levels: CrashDurability[] = values.durability === 'both' ? ['log', 'disk'] : [values.durability as CrashDurability]

const results: KillResult[] = []
const started = Date.now()
const tty = process.stdout.isTTY

function progress(result: KillResult): void {
  results.push(result)
  const failed = results.filter((r) => r.failures.length > 0).length
  const acked = results.reduce((sum, r) => sum + r.acked, 0)
  const line = `kill ${results.length}/${kills}  failures ${failed}  acked ${acked}  ${((Date.now() - started) / 1000).toFixed(0)} s`
  if (result.failures.length > 0) {
    console.log(`\n${describeKill(result)}`)
    for (const failure of result.failures) console.log(`  ${failure}`)
  } else if (values.verbose) console.log(describeKill(result))
  if (tty) process.stdout.write(`\r${line}`)
  else if (results.length % 10 === 0 || results.length === kills) console.log(line)
}

for (let trial = 0; results.length < kills; trial++) {
  const durability = levels[trial % levels.length] as CrashDurability
  const seed = baseSeed + trial
  await runTrial({ seed, durability, kills: Math.min(chain, kills - results.length), delayMs: [0, 1500], onKill: progress })
}

const failed = results.filter((r) => r.failures.length > 0)
const acked = results.reduce((sum, r) => sum + r.acked, 0)
const recovered = results.reduce((sum, r) => sum + r.recoveredRecords, 0)
if (tty) process.stdout.write('\n')
console.log(`kills done: ${results.length} (${levels.join(' + ')}, chains of ${chain}, base seed ${baseSeed}) in ${((Date.now() - started) / 1000).toFixed(0)} s`)
console.log(`acked writes: ${acked}; log records replayed by the checks: ${recovered}`)
console.log(`failures: ${failed.length}`)
for (const r of failed) {
  console.log(`  seed ${r.seed} run ${r.run} (${r.durability}): ${r.failures[0]}`)
  console.log(`    rerun: npx tsx scripts/crash-loop.ts --seed ${r.seed} --durability ${r.durability} --kills ${r.run} --chain ${chain}`)
}
process.exitCode = failed.length > 0 ? 1 : 0
