/**
 * The dead-letter operations of a cache on a Redis tier, with the embedded cache's semantics:
 * `replay` puts the selected letters back in the dirty set at their original versions (a key
 * written since keeps its newer write: the letter is superseded), flushes, then reports each
 * letter by what Redis holds for its key afterwards; `drop` removes them. The letters live in the
 * shard streams (`src/tier/redis/dead-letters.ts`), shared by every instance of the tier.
 */
import type { DeadLetterSelector } from '../../contracts/dead-letters.js'
import type { ReplayReport } from '../../contracts/reports.js'
import { deadLetterMatcher } from '../../dead-letters/queue.js'
import type { EntryRecord } from '../../tier/redis/claims.js'
import type { RedisTier } from '../../tier/redis/redis-tier.js'

export async function replayTierLetters(tier: RedisTier, selector: DeadLetterSelector | undefined, flush: () => Promise<unknown>): Promise<ReplayReport> {
  const matches = deadLetterMatcher(selector)
  const letters = (await tier.letters()).filter(matches)
  const { requeued, superseded } = await tier.requeueLetters(letters)
  if (requeued.length === 0) return { replayed: 0, superseded, failed: 0, busy: 0 }
  await flush()
  const entries = await tier.read(requeued.map((r) => r.key))
  const report = { replayed: 0, superseded, failed: 0, busy: 0 }
  requeued.forEach(({ version }, i) => (report[outcome(entries[i], version)] += 1))
  return report
}

export async function dropTierLetters(tier: RedisTier, selector: DeadLetterSelector | undefined): Promise<number> {
  const matches = deadLetterMatcher(selector)
  return tier.dropLetters((await tier.letters()).filter(matches))
}

/**
 * What became of a requeued letter: still dead at its version (failed again), still dirty at it
 * (another instance holds its shard, or the flush stopped: busy), else accepted by the store
 * (clean, or dropped because the store held a newer version) or passed by a newer write.
 */
function outcome(entry: EntryRecord | undefined, version: number): 'replayed' | 'failed' | 'busy' {
  if (entry?.version === version && entry.state === 'x') return 'failed'
  if (entry?.version === version && entry.state === 'd') return 'busy'
  return 'replayed'
}
