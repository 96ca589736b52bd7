/**
 * `WriteBehindCache.open()`: validate the options, take the directory (dirty log + dead-letter
 * queue), replay what the log holds above its checkpoint, re-dirty it and start flushing. The
 * version floor comes from the log and checkpoint, so versions never go backwards (invariant 8).
 */
import type { LogRecord, Recovered } from '../log/types.js'
import type { DirtyLog } from '../log/dirty-log.js'
import { DeadLetterQueue } from '../flush/dead-letters.js'
import { CacheParts } from './cache-parts.js'
import type { CacheOptions, ResolvedOptions } from './options.js'
import { resolveOptions } from './resolve-options.js'

export async function openCache<C>(options: CacheOptions, build: (parts: CacheParts) => C): Promise<C> {
  const resolved = resolveOptions(options)
  const started = resolved.clock.now()
  const opened = resolved.dir === undefined ? undefined : await openLog(resolved)
  let dlq: DeadLetterQueue
  try {
    dlq = await DeadLetterQueue.open(resolved.dir)
  } catch (error) {
    await opened?.log.close()
    throw error
  }
  const parts = new CacheParts(resolved, opened?.log, dlq, opened?.recovered.highestVersion ?? 0)
  const cache = build(parts)
  if (opened !== undefined) replay(parts, opened.recovered, started)
  parts.deadLetters.pinRecovered()
  parts.alarm.start()
  parts.scheduler.pump()
  return cache
}

async function openLog(options: ResolvedOptions): Promise<{ log: DirtyLog; recovered: Recovered }> {
  const { DirtyLog } = await import('../log/dirty-log.js')
  return DirtyLog.open({
    dir: options.dir as string,
    segmentBytes: options.segmentBytes,
    syncIntervalMs: options.syncIntervalMs,
    recovery: options.recovery,
    writeScheduling: options.logWriteScheduling,
    clock: options.clock,
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
  if (recovered.records.length > 0) void parts.scheduler.flushAll()
}

function redirty(parts: CacheParts, record: LogRecord): void {
  parts.versions.observe(record.version)
  const entry = parts.memory.write(record.key, record.encoded, record.version)
  parts.backlog.record(entry, parts.memory.lastSizeDelta)
}
