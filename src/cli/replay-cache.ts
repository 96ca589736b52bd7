/**
 * `dlq replay` through a cache (on a dir, or on a Redis tier): the store is guarded, so that a
 * store failing every write alike stops the run instead of dead-lettering everything again.
 */
import type { DeadLetterFilter } from '../contracts/dead-letters.js'
import type { Clock } from '../contracts/clock.js'
import type { Store } from '../contracts/store.js'
import type { WriteBehindCache } from '../core/write-behind-cache.js'
import { EXIT } from './exit-codes.js'
import { plural } from './letter-format.js'
import { GuardedStore, TripwireClock } from './store-guard.js'
import type { CliStore } from './store-spec.js'

/** Opens the cache the replay runs through, on the guarded store and the tripwire clock. */
export type OpenReplayCache = (options: { store: Store; clock: Clock; codec?: CliStore['codec'] }) => Promise<WriteBehindCache>

/**
 * Opens a cache on the dir with the store (this takes the dir's lock and replays the dirty log
 * first, so a newer write of a key wins over its dead letter), replays the selected letters with
 * their original versions, and closes. The store is guarded: when it fails every write alike the
 * run stops with every letter (and its error) as it was.
 */
export async function replayThroughCache(open: OpenReplayCache, opened: CliStore, filter: DeadLetterFilter | undefined, out: NodeJS.WritableStream): Promise<number> {
  const clock = new TripwireClock()
  const guard = new GuardedStore(opened, { onTrip: () => clock.trip() })
  const codec = opened.codec === undefined ? {} : { codec: opened.codec }
  const cache = await open({ store: guard, clock, ...codec }).catch(async (error: unknown) => {
    await guard.close()
    throw error
  })
  let report: Awaited<ReturnType<typeof cache.replayDeadLetters>> | undefined
  try {
    // A tripped guard answers nothing, so the replay would wait forever: the trip ends the wait.
    report = await Promise.race([cache.replayDeadLetters(filter), guard.tripped.then(() => undefined)])
  } finally {
    const closed = await cache.close()
    if (!closed.drained && guard.tripCause === undefined) out.write(`warning: ${closed.unflushed} writes from the log could not be flushed; they stay in the log.\n`)
  }
  const cause = guard.tripCause
  if (cause !== undefined || report === undefined) {
    out.write(
      `stopped: the store ${opened.label} failed every write alike, or failed its check: ${cause?.message ?? 'unknown'}\n` +
        'Every dead letter stays in the queue, with its error, as it was. Fix the store (table, privileges, server) and replay again.\n',
    )
    return EXIT.UNAVAILABLE
  }
  out.write(`Replayed ${plural(report.replayed)}; ${report.superseded} superseded by newer writes; ${report.failed} failed again (still in the queue).\n`)
  return report.failed > 0 || report.busy > 0 ? EXIT.NEGATIVE : EXIT.OK
}
