/**
 * `WriteBehindCache.open()`: validate the options, check the store (`check()`, else `ping()`,
 * unless `checkStore: false`) before anything is touched, take the directory (dirty log +
 * dead-letter queue, warning when it holds letters), replay what the log holds above its
 * checkpoint, re-dirty it and start flushing. The version floor comes from the log and
 * checkpoint, so versions never go backwards (invariant 8).
 */
import type { Store } from '../contracts/store.js'
import { StoreError } from '../errors.js'
import type { LogRecord, Recovered } from '../log/types.js'
import type { DirtyLog } from '../log/dirty-log.js'
import { DeadLetterQueue } from '../flush/dead-letters.js'
import { CacheParts } from './cache-parts.js'
import type { CacheOptions } from '../contracts/options.js'
import { resolveOptions, type ResolvedOptions } from './resolve-options.js'
import { revokeUnlogged } from './revoke.js'

export async function openCache<C>(options: CacheOptions, build: (parts: CacheParts) => C): Promise<C> {
  const resolved = resolveOptions(options)
  if (resolved.checkStore) await checkStore(resolved.store)
  const started = resolved.clock.now()
  // The log's failure rolls back the writes it rejects; the parts exist only after the log opened.
  let onLogFailed: ((writtenVersion: number) => void) | undefined
  const opened = resolved.dir === undefined ? undefined : await openLog(resolved, (v) => onLogFailed?.(v))
  let dlq: DeadLetterQueue
  try {
    dlq = await DeadLetterQueue.open(resolved.dir)
  } catch (error) {
    await opened?.log.close()
    throw error
  }
  const logged = opened?.recovered.highestVersion ?? 0
  const floor = logged > 0 ? logged : await storeFloor(resolved)
  const parts = new CacheParts(resolved, opened?.log, dlq, floor)
  const cache = build(parts)
  const log = opened?.log
  if (log !== undefined) {
    parts.backlog.beforeTake = () => log.writePending()
    onLogFailed = (writtenVersion) => {
      const keys = revokeUnlogged(parts, writtenVersion)
      parts.emit('warning', { code: 'WB_LOG_FAILED', message: `the dirty log failed; ${keys} key(s) with writes rejected for it were rolled back` })
    }
  }
  if (opened !== undefined) replay(parts, opened.recovered, started)
  try {
    await parts.deadLetters.pinRecovered()
  } catch (error) {
    await dlq.close().catch(() => {})
    await opened?.log.close().catch(() => {})
    throw error
  }
  if (dlq.size > 0) warnDeadLetters(resolved, dlq.size)
  parts.alarm.start()
  parts.scheduler.pump()
  return cache
}

/**
 * `store.check()`, else `store.ping()`, before anything is touched. A `StoreError` (the SQL stores
 * name the cause and the fix) is thrown as it is; anything else is wrapped in one.
 */
async function checkStore(store: Store): Promise<void> {
  try {
    if (store.check !== undefined) await store.check()
    else if (store.ping !== undefined) await store.ping()
  } catch (error) {
    if (error instanceof StoreError) throw error
    const reason = error instanceof Error ? error.message : String(error)
    throw new StoreError(
      `The store failed its check at open: ${reason}. Fix the store (or open with checkStore: false to start anyway; writes then wait in the log until it is back).`,
      { retryable: true, scope: 'store', cause: error },
    )
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

async function openLog(options: ResolvedOptions, onFailed: (writtenVersion: number) => void): Promise<{ log: DirtyLog; recovered: Recovered }> {
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
    warn: options.warn,
  })
}

/** Re-dirties every record above the checkpoint, in order (so the latest version of a key wins). */
function replay(parts: CacheParts, recovered: Recovered, started: number): void {
  const now = parts.options.clock.now()
  for (const record of recovered.records) redirty(parts, record)
  parts.recovery = {
    records: recovered.records.length,
    keys: parts.backlog.size,
    durationMs: now - started,
    truncations: recovered.truncations,
  }
  // Emitted after open() resolves, so listeners attached right after `await open()` see them.
  const report = parts.recovery
  setImmediate(() => {
    for (const t of report.truncations) parts.emit('log:truncated', t)
    if (report.records > 0) parts.emit('recovered', report)
  })
  // Drains what was replayed at once; close() rejects it if it comes first, which is fine.
  if (recovered.records.length > 0) parts.scheduler.flushAll().catch(() => {})
}

function redirty(parts: CacheParts, record: LogRecord): void {
  parts.versions.observe(record.version)
  const entry = parts.memory.write(record.key, record.encoded, record.version)
  parts.backlog.record(entry, parts.memory.lastSizeDelta)
}
