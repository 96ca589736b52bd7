/**
 * The simulator's workload process (forked by runner.ts; killed with SIGKILL by design). In
 * `write` mode it opens a cache on the run's store and log dir and runs W writers until told to
 * stop, reporting every acknowledged write (key index and sequence number) to the parent in small
 * batches, a stats snapshot a few times a second, and the log's length after each fsync. In
 * `recover` mode it opens the same dir (replaying the log), reports what it found, drains and closes.
 * Importing this module runs it: it is an entry point.
 */
import diagnosticsChannel from 'node:diagnostics_channel'
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises'
import { DEFAULTS } from '../../contracts/defaults.js'
import { CHANNELS, type DeadLetterMessage } from '../../contracts/diagnostics.js'
import { WriteBehindCache } from '../../core/write-behind-cache.js'
import { seededRandom, ZipfSampler } from '../zipf.js'
import { FaultyStore } from './faulty-store.js'
import { watchFsyncs } from './power-cut.js'
import type { ChildConfig, ChildMessage, ParentMessage, SimValue } from './protocol.js'
import { simKey } from './protocol.js'
import { openSimStore } from './sim-store.js'

const ACK_REPORT_MS = 20
const YIELD_EVERY = 64
const ZIPF_EXPONENT = 1.1

function send(message: ChildMessage): void {
  process.send?.(message)
}

/** Acknowledged writes not yet reported. */
class AckBuffer {
  private keys: number[] = []
  private seqs: number[] = []
  private firstAt = 0
  reads = 0
  errors = 0

  add(key: number, seq: number): void {
    if (this.keys.length === 0) this.firstAt = Date.now()
    this.keys.push(key)
    this.seqs.push(seq)
  }

  report(): void {
    if (this.keys.length === 0 && this.reads === 0 && this.errors === 0) return
    send({ type: 'acks', keys: Uint32Array.from(this.keys), seqs: Float64Array.from(this.seqs), at: this.firstAt, reads: this.reads, errors: this.errors })
    this.keys = []
    this.seqs = []
    this.reads = 0
    this.errors = 0
  }
}

async function main(config: ChildConfig): Promise<void> {
  const { settings } = config
  const opened = await openSimStore(settings.store, config.db, config.pgUrl)
  const store = new FaultyStore(opened.store, seededRandom(settings.seed ^ 0x5eed))
  if (config.dir !== undefined) watchFsyncs(config.dir, (mark) => send({ type: 'fsynced', ...mark }))
  reportDeadLetters()
  const cache = await WriteBehindCache.open<SimValue>({
    store,
    dir: config.dir,
    durability: settings.durability,
    coalesce: settings.coalesce,
    flush: { intervalMs: settings.intervalMs, batchSize: settings.batchSize },
    retry: { baseDelayMs: 50, maxDelayMs: 1000 },
    alerts: { maxStalenessMs: staleAfter(settings.intervalMs) },
    warn: () => {},
  })
  const stop = new AbortController()
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'faults') store.faults = message.faults
    else stop.abort()
  })
  const limits = { maxDelayMs: DEFAULTS.flush.maxDelayMs, stalenessMs: staleAfter(settings.intervalMs) }
  const statsTimer = setInterval(() => send({ type: 'stats', stats: cache.stats(), at: Date.now(), limits }), config.statsEveryMs)
  const recovered = cache.recovery === undefined ? undefined : { records: cache.recovery.records, keys: cache.recovery.keys }
  send({ type: 'ready', recovered })
  if (config.mode === 'write') await writeUntil(cache, config, stop.signal)
  const close = await cache.close()
  clearInterval(statsTimer)
  send({ type: 'stats', stats: cache.stats(), at: Date.now(), limits })
  await opened.release()
  send({ type: 'closed', drained: close.drained, unflushed: close.unflushed })
  process.disconnect?.()
}

/** The staleness alert threshold the child sets: twice the flush interval, at least a second. */
export function staleAfter(intervalMs: number): number {
  return Math.max(1000, 2 * intervalMs)
}

async function writeUntil(cache: WriteBehindCache<SimValue>, config: ChildConfig, stop: AbortSignal): Promise<void> {
  const { settings } = config
  const acks = new AckBuffer()
  const timer = setInterval(() => acks.report(), ACK_REPORT_MS)
  const sampler = new ZipfSampler(settings.keys, settings.workload === 'uniform' ? 0 : ZIPF_EXPONENT, settings.seed)
  const random = seededRandom(settings.seed + 1)
  const started = performance.now()
  let seq = 0
  const writer = async (): Promise<void> => {
    for (let i = 1; !stop.aborted; i++) {
      if (settings.workload === 'bursts' && Math.floor((performance.now() - started) / 1000) % 2 === 1) {
        await sleep(1000 - ((performance.now() - started) % 1000))
        continue
      }
      const key = sampler.next()
      // A failed call (a read-through while the store is stopped, a write refused) is what an
      // app would log and go on from: it is counted, and a refused write is not acknowledged.
      try {
        if (random() < settings.readShare) {
          await cache.get(simKey(key))
          acks.reads++
        } else {
          const mine = ++seq
          await cache.set(simKey(key), { seq: mine, at: Date.now() })
          acks.add(key, mine)
        }
      } catch {
        acks.errors++
      }
      if (i % YIELD_EVERY === 0) await yieldToLoop()
    }
  }
  try {
    await Promise.all(Array.from({ length: settings.writers }, writer))
  } finally {
    clearInterval(timer)
    acks.report()
  }
}

/** Tells the parent which keys went to the dead-letter queue: their writes wait there, not lost. */
function reportDeadLetters(): void {
  diagnosticsChannel.subscribe(CHANNELS.deadLetter, (message) => {
    const index = Number(/^k:(\d+)$/.exec((message as DeadLetterMessage).key)?.[1] ?? NaN)
    if (Number.isInteger(index)) send({ type: 'dead-letter', key: index })
  })
}

process.once('message', (config: ChildConfig) => {
  main(config).catch((error: unknown) => {
    send({ type: 'failed', message: error instanceof Error ? error.message : String(error) })
    process.exitCode = 1
    process.disconnect?.()
  })
})
