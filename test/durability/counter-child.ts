/**
 * The process the counter kill test kills -9. Spawned as
 *   node --import tsx test/durability/counter-child.ts '<CounterChildConfig JSON>'
 * with an IPC channel. It opens a cache (dirty log in `dir`, a SQLite store in `db`) and runs
 * `writers` concurrent writers on a few hot counters until it is killed.
 *
 * Writer `w` always adds 2^w, one increment at a time: it awaits the increment, then reports it to
 * the parent and waits until the report is handed to the OS, then goes on. So at a kill each
 * writer has at most one increment the parent has not heard of, and which counter it went to is
 * known (writer w's n-th increment goes to `counterOf(seed, run, w, n)`): the parent can tell
 * exactly which of those landed from the stored sums (distinct powers of two), and anything else
 * is a lost or doubled increment.
 */
import { WriteBehindCache } from '../../src/index.js'
import { counterKey, counterPicker, openCounterStore, type CounterChildConfig, type CounterMessage } from './counter-protocol.js'

const config = JSON.parse(process.argv[2] ?? '') as CounterChildConfig

/** Sends and resolves once the message is written to the channel (it then survives our death). */
function sendNow(message: CounterMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    process.send?.(message, undefined, {}, (error: Error | null) => (error === null ? resolve() : reject(error)))
  })
}

async function writer(cache: WriteBehindCache, w: number): Promise<never> {
  const pick = counterPicker(config.seed, config.run, w, config.counters)
  for (let n = 1; ; n++) {
    await cache.increment(counterKey(pick()), 2 ** w)
    await sendNow({ t: 'ack', w, n })
  }
}

async function main(): Promise<void> {
  const cache = await WriteBehindCache.open({
    store: openCounterStore(config.store, config.db),
    dir: config.dir,
    durability: config.durability,
    segmentBytes: 64 * 1024,
    coalesce: config.coalesce,
    flush: { intervalMs: config.flushIntervalMs, maxDelayMs: 50, batchSize: 2, concurrency: 2 },
    warn: () => {},
  })
  await new Promise((resolve) => setImmediate(resolve))
  await sendNow({ t: 'ready' })
  await Promise.all(Array.from({ length: config.writers }, (_, w) => writer(cache, w)))
}

main().catch((error: unknown) => {
  process.send?.({ t: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) })
  setTimeout(() => process.exit(3), 50)
})
