/**
 * `cache.close()`: stop taking writes, drain the backlog for up to `closeTimeoutMs`, then release
 * everything, each cleanup running even if another fails. What could not be flushed in time is
 * reported, and stays in the dirty log (where there is one) for the next `open()`.
 */
import { CacheClosedError } from '../errors.js'
import type { Entry } from './memory-tier.js'
import type { CacheParts } from './cache-parts.js'
import type { CloseReport } from '../contracts/reports.js'

export async function closeCache(parts: CacheParts): Promise<CloseReport> {
  const drained = await drainWithin(parts, parts.options.closeTimeoutMs)
  parts.scheduler.stop(new CacheClosedError('finish flush()'))
  parts.flusher.stop()
  parts.alarm.stop()
  parts.admission.rejectAll(new CacheClosedError('write'))
  rejectWriteThroughs(parts)
  const leftover = unflushedKeys(parts)
  const deadLetters = parts.dlq.size
  const errors: Error[] = []
  const logOk = (await attempt(errors, () => parts.checkpointer.final())) && (await attempt(errors, async () => parts.log?.close()))
  await attempt(errors, () => parts.dlq.close())
  await attempt(errors, async () => parts.options.store.close?.())
  return {
    drained: drained && leftover.length === 0,
    unflushed: leftover.length,
    unflushedKeys: leftover.slice(0, 100),
    safeInLog: parts.log !== undefined && logOk,
    deadLetters,
    errors,
  }
}

async function drainWithin(parts: CacheParts, timeoutMs: number): Promise<boolean> {
  const { clock } = parts.options
  let timer: ReturnType<typeof clock.setTimeout> | undefined
  const timeout = new Promise<false>((resolve) => {
    timer = clock.setTimeout(() => resolve(false), timeoutMs)
  })
  const drained = parts.drain().then(() => true as const)
  drained.catch(() => {}) // after a timeout the drain is rejected by the stop; nobody waits for it any more
  const result = await Promise.race([drained, timeout])
  if (timer !== undefined) clock.clearTimeout(timer)
  return result
}

/** Every write at durability `store` still waiting rejects: none of them is known to be in the store. */
function rejectWriteThroughs(parts: CacheParts): void {
  const error = new CacheClosedError('wait for the store')
  for (const key of [...parts.scheduler.urgent]) {
    const entry: Entry | undefined = parts.memory.peek(key)
    const waiters = entry?.waiters
    if (entry === undefined || waiters === undefined) continue
    entry.waiters = undefined
    for (const w of waiters) w.reject(error)
  }
  parts.scheduler.urgent.clear()
}

/** Keys with writes not yet in the store: still dirty, or left in a flight by the stop. */
function unflushedKeys(parts: CacheParts): string[] {
  const keys = new Set<string>()
  for (const key of parts.backlog.keys()) keys.add(key)
  for (const op of parts.flusher.abandoned) keys.add(op.key)
  for (const key of parts.flusher.busy) keys.add(key)
  return [...keys]
}

/** Runs one cleanup, collecting its error; true when it succeeded. */
async function attempt(errors: Error[], cleanup: () => Promise<unknown>): Promise<boolean> {
  try {
    await cleanup()
    return true
  } catch (error) {
    errors.push(error instanceof Error ? error : new Error(String(error)))
    return false
  }
}
