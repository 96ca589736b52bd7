// Power loss, simulated (the durability contract's `disk` row). While 8 writers write through a
// cache at durability `disk`, the test takes "power cuts": in one synchronous step it freezes the
// book of acknowledged writes and copies the log directory with every segment cut at the offset
// the log reports as fsynced, which is what a power loss would leave; a segment whose name was
// never made durable by a directory fsync (dir-sync-tracker.ts) is left out entirely. A fresh
// cache with a fresh store then recovers each copy: every write acknowledged before the cut must
// be there. With segments smaller than one group commit, rolls resolve the waiters; that case
// lost acknowledged writes until roll() fsynced the directory (commit "log: fsync the directory
// when a segment rolls").
//
// The negative control shows the check has teeth: at durability `log` with no syncIntervalMs, an
// acknowledged write is only handed to the OS, nothing is fsynced, and the same cut loses it.
//
// Real files and fsync, so real time: the writers run for a few hundred milliseconds.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { setImmediate as yieldToEventLoop, setTimeout as sleep } from 'node:timers/promises'
import { MemoryStore, WriteBehindCache, type CacheOptions } from '../../src/index.js'
import { seededRandom } from '../helpers/seeded-random.js'
import { AckBook, checkRecovery } from './crash-check.js'
import { keyName, valueFor } from './crash-protocol.js'
import { DirSyncTracker } from './dir-sync-tracker.js'
import { copyAtSyncedOffsets, logOf, type PowerCut } from './power-cut.js'

const HOUR = 3_600_000
const KEYS = 256
const WRITERS = 8
const CUTS = 5
const work = mkdtempSync(join(tmpdir(), 'wb-power-'))
after(() => rmSync(work, { recursive: true, force: true }))

/** Options that never flush on their own: the store must not move the checkpoint under the cuts. */
function options(dir: string, extra: Partial<CacheOptions>): CacheOptions {
  const flush = { intervalMs: HOUR, maxDelayMs: HOUR, batchSize: 1_000_000 }
  return { store: new MemoryStore(), dir, flush, closeTimeoutMs: 10_000, warn: () => {}, ...extra }
}

/**
 * Writers like the crash child's: writer `w` owns the keys equal to `w` modulo `count` and issues
 * bursts of 1-4 writes (15% deletes). A delete is entered in the book before it is issued (an
 * intent), every write after its promise resolved (an ack).
 */
function startWriters(cache: WriteBehindCache, book: AckBook, seed: number, count: number): { stop(): Promise<void> } {
  let running = true
  const seqs = new Map<number, number>()
  const writer = async (w: number): Promise<void> => {
    const random = seededRandom(seed * 100 + w)
    while (running) {
      const burst = Array.from({ length: 1 + Math.floor(random() * 4) }, () => {
        const index = w + count * Math.floor(random() * (KEYS / count))
        const seq = (seqs.get(index) ?? 0) + 1
        seqs.set(index, seq)
        return { index, seq, remove: random() < 0.15 }
      })
      await Promise.all(burst.map((op) => write(cache, book, op)))
      await yieldToEventLoop()
    }
  }
  const done = Promise.all(Array.from({ length: count }, (_, w) => writer(w)))
  return {
    stop: async () => {
      running = false
      await done
    },
  }
}

async function write(cache: WriteBehindCache, book: AckBook, { index, seq, remove }: { index: number; seq: number; remove: boolean }): Promise<void> {
  if (remove) book.intent([index, seq])
  await (remove ? cache.delete(keyName(index)) : cache.set(keyName(index), valueFor(index, seq)))
  book.ack([index, seq, remove ? 1 : 0])
}

async function untilRolled(cache: WriteBehindCache, segments: number): Promise<void> {
  const deadline = Date.now() + 10_000
  while (logOf(cache).stats().segments < segments && Date.now() < deadline) await sleep(10)
}

/** A power cut now: the acknowledged writes and the log as a power loss would leave them. */
function powerCut(cache: WriteBehindCache, dir: string, to: string, book: AckBook, durable?: ReadonlySet<string>): { book: AckBook; cut: PowerCut; dir: string } {
  const frozen = book.clone()
  const cut = copyAtSyncedOffsets(dir, join(to, 'log'), logOf(cache).stats().syncedOffsets, durable)
  return { book: frozen, cut, dir: join(to, 'log') }
}

/**
 * Writes at durability `disk` with segments of `segmentBytes`, takes CUTS power cuts at random
 * moments (directory entries that were never fsynced vanish), then recovers and checks each cut.
 */
async function diskCuts(name: string, segmentBytes: number, seed: number, writerCount: number): Promise<void> {
  const dir = join(work, name)
  mkdirSync(dir)
  const tracker = await DirSyncTracker.install(dir)
  const cuts: Array<ReturnType<typeof powerCut>> = []
  let segmentsRolled: number
  try {
    const cache = await WriteBehindCache.open(options(dir, { durability: 'disk', segmentBytes }))
    const book = new AckBook()
    const random = seededRandom(seed)
    const writers = startWriters(cache, book, seed, writerCount)
    for (let i = 0; i < CUTS; i++) {
      await sleep(30 + Math.floor(random() * 70))
      if (i === CUTS - 1) await untilRolled(cache, 3) // the last cut comes after rolls, however slow the disk
      cuts.push(powerCut(cache, dir, join(work, `${name}-cut-${i}`), book, tracker.durableNames()))
    }
    await writers.stop()
    segmentsRolled = logOf(cache).stats().segments
    await cache.close()
  } finally {
    tracker.uninstall()
  }
  for (const [i, { book: acked, cut, dir: copy }] of cuts.entries()) {
    const result = await checkRecovery(copy, join(work, `${name}-cut-${i}`, 'fresh.db'), 'disk', KEYS, acked)
    const vanished = cut.vanished.length > 0 ? ` (${cut.vanished.length} not yet in a fsynced directory: ${cut.vanished.join(', ')})` : ''
    console.log(`${name} cut ${i}: ${acked.total} acked writes, ${cut.segments} segments${vanished}, ${cut.droppedBytes} unsynced bytes dropped, recovered ${result.recoveredKeys} keys`)
    assert.deepEqual(result.failures, [], `${name} cut ${i} lost or corrupted acknowledged writes`)
    // An early cut may come before the first fsync round ends (a busy disk); the last comes after rolls.
    if (i === CUTS - 1) assert.ok(acked.total > 0 && result.recoveredKeys > 0, `cut ${i} had acknowledged writes to recover`)
  }
  assert.ok(segmentsRolled >= 3, `the log rolled segments during the run (${segmentsRolled})`)
  assert.ok(
    cuts.some((c) => c.cut.droppedBytes > 0),
    'some cut came while written bytes were not yet fsynced (else it proves nothing)',
  )
}

describe('power loss (simulated by cutting segments at their fsynced offsets)', () => {
  it('at durability disk, every acknowledged write is in the fsynced part of the log', async () => {
    await diskCuts('disk', 16 * 1024, 7, WRITERS)
  })

  it('at durability disk, with segments smaller than one group commit (rolls resolve the waiters)', async () => {
    await diskCuts('disk-small-segments', 4096, 8, 32)
  })

  it('negative control: at durability log without fsync, the same cut loses acknowledged writes', async () => {
    const dir = join(work, 'log')
    const cache = await WriteBehindCache.open(options(dir, { durability: 'log' }))
    const book = new AckBook()
    for (let index = 0; index < 100; index++) {
      await cache.set(keyName(index), valueFor(index, 1))
      book.ack([index, 1, 0])
    }
    const { book: acked, cut, dir: copy } = powerCut(cache, dir, join(work, 'log-cut'), book)
    const synced = logOf(cache).stats().lastSyncedOffset
    await cache.close()

    assert.equal(synced, 0, 'nothing was fsynced: no syncIntervalMs, no disk write, no segment roll')
    assert.ok(cut.droppedBytes > 0, 'the acknowledged records were written to the OS, past the synced offset')
    const result = await checkRecovery(copy, join(work, 'log-cut', 'fresh.db'), 'log', 100, acked)
    assert.equal(result.recoveredKeys, 0)
    assert.ok(result.failures.length > 0 && result.failures.every((f) => f.startsWith('LOST: ')), `acknowledged writes are lost: ${result.failures[0]}`)
  })
})
