/**
 * The process the crash tests kill -9. Spawned as
 *   node --import tsx test/durability/crash-child.ts '<ChildConfig JSON>'
 * with an IPC channel. It opens a cache (dirty log in `dir`, a SqliteStore in `db`) at durability
 * `log` or `disk`, with fast flushing and small segments so kills land mid-flush, mid-checkpoint
 * and mid-roll, then runs `writers` concurrent writers until it is killed.
 *
 * Writer `w` owns the keys whose index is `w` modulo `writers`, so a key's sequence numbers are
 * issued in version order. It issues bursts of 1-4 writes without waiting in between (one key may
 * have several writes in flight), then waits for the whole burst. Every write is reported to the
 * parent only AFTER its promise resolved (acks are batched: one IPC message per event-loop turn).
 * A delete is announced first, and issued only once the announcement is handed to the OS: a
 * tombstone the parent finds can then always be matched with a delete the child may have made.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import { WriteBehindCache } from '../../src/index.js'
import { SqliteStore } from '../../src/stores/sql/sqlite/index.js'
import { seededRandom } from '../helpers/seeded-random.js'
import { keyName, SEQ_PER_RUN, valueFor, type Ack, type ChildConfig, type ChildMessage, type Intent } from './crash-protocol.js'

const DELETE_SHARE = 0.15

interface PlannedOp {
  readonly index: number
  readonly seq: number
  readonly kind: 'set' | 'delete'
}

const config = JSON.parse(process.argv[2] ?? '') as ChildConfig
const counts = new Map<number, number>()
let acks: Ack[] = []

function send(message: ChildMessage): void {
  process.send?.(message)
}

/** Sends and resolves once the message is written to the channel (it then survives our death). */
function sendNow(message: ChildMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    process.send?.(message, undefined, {}, (error: Error | null) => (error === null ? resolve() : reject(error)))
  })
}

function flushAcks(): void {
  if (acks.length === 0) return
  send({ t: 'acks', a: acks })
  acks = []
}

function nextSeq(index: number): number {
  const n = (counts.get(index) ?? 0) + 1
  counts.set(index, n)
  return config.run * SEQ_PER_RUN + n
}

function plan(w: number, random: () => number): PlannedOp[] {
  const owned = Math.ceil((config.keys - w) / config.writers)
  const burst = 1 + Math.floor(random() * 4)
  return Array.from({ length: burst }, () => {
    const index = w + config.writers * Math.floor(random() * owned)
    const kind = random() < DELETE_SHARE ? 'delete' : 'set'
    return { index, seq: nextSeq(index), kind }
  })
}

async function writer(cache: WriteBehindCache, w: number): Promise<never> {
  const random = seededRandom(config.seed * 1000 + config.run * 100 + w)
  for (;;) {
    const ops = plan(w, random)
    const deletes: Intent[] = ops.filter((op) => op.kind === 'delete').map((op) => [op.index, op.seq])
    if (deletes.length > 0) await sendNow({ t: 'intents', d: deletes })
    await Promise.all(ops.map((op) => issue(cache, op)))
    // At durability `log` an ack is a microtask away: without this the writers would starve the
    // event loop (timers, the flush scheduler, IPC), which no real application does.
    await yieldToEventLoop()
  }
}

async function issue(cache: WriteBehindCache, op: PlannedOp): Promise<void> {
  const key = keyName(op.index)
  if (op.kind === 'delete') await cache.delete(key)
  else await cache.set(key, valueFor(op.index, op.seq))
  // Batched per event-loop turn: the first ack of a turn schedules one IPC message for them all.
  if (acks.length === 0) setImmediate(flushAcks)
  acks.push([op.index, op.seq, op.kind === 'delete' ? 1 : 0])
}

async function main(): Promise<void> {
  const cache = await WriteBehindCache.open({
    store: new SqliteStore({ path: config.db }),
    dir: config.dir,
    durability: config.durability,
    segmentBytes: config.segmentBytes,
    coalesce: config.coalesce,
    flush: { intervalMs: config.flushIntervalMs, batchSize: config.batchSize, maxDelayMs: 50, concurrency: config.concurrency },
    warn: () => {},
  })
  let recoveredRecords = 0
  cache.on('recovered', (report) => (recoveredRecords = report.records))
  await new Promise((resolve) => setImmediate(resolve))
  send({ t: 'ready', recoveredRecords })
  await Promise.all(Array.from({ length: config.writers }, (_, w) => writer(cache, w)))
}

main().catch((error: unknown) => {
  flushAcks()
  send({ t: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) })
  setTimeout(() => process.exit(3), 50)
})
