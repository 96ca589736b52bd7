/**
 * `WriteBehindCache.open()`: validate the options, check the store (`check()`, else `ping()`,
 * unless `checkStore: false`) before anything is touched, take the directory (dirty log +
 * dead-letter queue, warning when it holds letters), replay what the log holds above its
 * checkpoint, re-dirty it and start flushing. The version floor comes from the log and
 * checkpoint, so versions never go backwards (README, invariant 8).
 */
import type { Store } from '../contracts/store.js'
import { DeadLetterQueue } from '../dead-letters/queue.js'
import { Diagnostics } from '../diagnostics/channels.js'
import { StoreError } from '../errors.js'
import type { DirtyLog } from '../log/dirty-log.js'
import type { Recovered } from '../log/types.js'
import { EmbeddedTier } from '../tier/embedded/embedded-tier.js'
import { Engine } from './engine.js'
import type { CacheOptions } from '../contracts/options.js'
import { resolveOptions, type ResolvedOptions } from './resolve-options.js'

export async function openCache<C>(options: CacheOptions, build: (engine: Engine) => C): Promise<C> {
  const resolved = resolveOptions(options)
  if (resolved.checkStore) await checkStore(resolved.store)
  const started = resolved.clock.now()
  const diagnostics = new Diagnostics(resolved.name)
  // The log's failure rolls back the writes it rejects; the tier exists only after the log opened.
  let tier: EmbeddedTier | undefined
  const opened = resolved.dir === undefined ? undefined : await openLog(resolved, diagnostics, (v) => tier?.logFailed(v))
  let dlq: DeadLetterQueue
  try {
    dlq = await DeadLetterQueue.open(resolved.dir)
  } catch (error) {
    await opened?.log.close()
    throw error
  }
  const logged = opened?.recovered.highestVersion ?? 0
  const floor = logged > 0 ? logged : await storeFloor(resolved)
  const engine = new Engine(
    resolved,
    (inFlight, warn, deadLetterOf, onStale) => (tier = new EmbeddedTier({ ...resolved, order: resolved.flush.order, inFlight, warn, deadLetterOf, onStale }, opened?.log, opened?.recovered, floor)),
    dlq,
    diagnostics,
  )
  const cache = build(engine)
  recover(engine, started)
  try {
    await engine.deadLetters.pinRecovered()
  } catch (error) {
    await dlq.close().catch(() => {})
    await opened?.log.close().catch(() => {})
    throw error
  }
  if (dlq.size > 0) warnDeadLetters(resolved, dlq.size)
  engine.start()
  return cache
}

/**
 * `store.check()`, else `store.ping()`, before anything is touched. A `StoreError` (the SQL stores
 * name the cause and the fix) is thrown as it is; anything else is wrapped in one.
 */
export async function checkStore(store: Store): Promise<void> {
  try {
    if (store.check !== undefined) await store.check()
    else if (store.ping !== undefined) await store.ping()
  } catch (error) {
    if (error instanceof StoreError) throw error
    const reason = error instanceof Error ? error.message : String(error)
    throw new StoreError(`The store failed its check at open: ${reason}. Fix the store (or open with checkStore: false to start anyway; writes then wait in the log until it is back).`, {
      retryable: true,
      scope: 'store',
      cause: error,
    })
  }
}

function warnDeadLetters(options: ResolvedOptions, count: number): void {
  options.warn(
    'WB_DEAD_LETTERS',
    `writebehind: the dead-letter queue in ${String(options.dir)} holds ${count} write${count === 1 ? '' : 's'} that never reached the store. ` +
      'List them with cache.deadLetters() or `writebehind dlq list <dir>`, fix the cause, then replay them (cache.replayDeadLetters()) or drop them.',
  )
}

/**
 * Without a log (no dir, or a fresh one), versions would start at the clock, which may have
 * stepped back below versions already in the store: start above the store's high-water mark when
 * it can tell. A dir whose log and checkpoint hold a mark is not asked: `highestVersion()` may cost
 * a scan, and the log's mark covers this cache's own writes; a newer row written from elsewhere
 * is learnt when a flush is superseded.
 */
async function storeFloor(options: ResolvedOptions): Promise<number> {
  const { store } = options
  if (store.highestVersion === undefined) return 0
  let highest: unknown
  try {
    highest = await store.highestVersion()
  } catch (error) {
    options.warn('WB_STORE_VERSION', `writebehind: store.highestVersion() failed (${String(error)}); versions start at the clock, and writes the store fences are reported as superseded`)
    return 0
  }
  if (typeof highest === 'number' && Number.isSafeInteger(highest) && highest >= 0) return highest
  options.warn('WB_STORE_VERSION', `writebehind: store.highestVersion() returned ${String(highest)}, not a safe integer >= 0; ignored`)
  return 0
}

async function openLog(options: ResolvedOptions, diagnostics: Diagnostics, onFailed: (writtenVersion: number) => void): Promise<{ log: DirtyLog; recovered: Recovered }> {
  const { DirtyLog } = await import('../log/dirty-log.js')
  return DirtyLog.open({
    dir: options.dir as string,
    segmentBytes: options.segmentBytes,
    syncIntervalMs: options.syncIntervalMs,
    recovery: options.recovery,
    writeScheduling: options.logWriteScheduling,
    clock: options.clock,
    onEvent: (e) => {
      if (e.type === 'failed') onFailed(e.writtenVersion)
    },
    onFsync: (durationMs) => diagnostics.logFsync(durationMs),
    warn: options.warn,
  })
}

/** Re-dirties what the log held above its checkpoint and starts draining it. */
function recover(engine: Engine, started: number): void {
  const recovered = engine.tier.recover()
  if (recovered === undefined) return
  const report = (engine.recovery = { ...recovered, truncations: [...recovered.truncations], durationMs: engine.options.clock.now() - started })
  engine.diagnostics.recovery(report.records, report.keys, Math.max(0, report.durationMs))
  // Emitted after open() resolves, so listeners attached right after `await open()` see them.
  setImmediate(() => {
    for (const t of report.truncations) engine.emit('log:truncated', t)
    if (report.records > 0) engine.emit('recovered', report)
  })
  // Drains what was replayed at once; close() rejects it if it comes first, which is fine.
  if (report.records > 0) engine.scheduler.flushAll().catch(() => {})
}
