/**
 * The dashboard's and the simulator's pure parts: the ack ledger's exact loss count, the power
 * cut's truncation of the log, the settings check, the promised loss per level, the sampler's
 * rates, and the Host check.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AckLedger } from '../../src/cli/sim/ack-ledger.js'
import { cutToLastFsync } from '../../src/cli/sim/power-cut.js'
import { DEFAULT_SIM_SETTINGS, parseSettings } from '../../src/cli/sim/settings.js'
import { promisedLoss } from '../../src/cli/sim/promise.js'
import { Sampler } from '../../src/cli/dashboard/sample.js'
import { loopbackHost } from '../../src/cli/dashboard/server.js'
import { InvalidOptionError } from '../../src/errors.js'
import { SEGMENT_HEADER_BYTES } from '../../src/log/record.js'
import type { CacheStats } from '../../src/contracts/stats.js'

const ledgerOf = (reports: Array<[number[], number[], number]>): AckLedger => {
  const ledger = new AckLedger()
  for (const [keys, seqs, at] of reports) ledger.add(Uint32Array.from(keys), Float64Array.from(seqs), at)
  return ledger
}

describe('AckLedger', () => {
  it('counts an acknowledged write lost only when its key holds an older sequence number, and dates the oldest', () => {
    // key 0: seqs 1, 3, 5; key 1: seqs 2, 4; key 2: seq 6
    const ledger = ledgerOf([
      [[0, 1], [1, 2], 1000],
      [[0, 1], [3, 4], 2000],
      [[0, 2], [5, 6], 3000],
    ])
    assert.equal(ledger.count, 6)
    // The store holds key 0 at 3 (5 lost), key 1 at 4 (nothing lost), key 2 missing (6 lost).
    assert.deepEqual(ledger.check(Float64Array.from([3, 4, 0])), { lost: 2, lostKeys: 2, deadLettered: 0, oldestLostAt: 3000 })
    // Key 0 holding nothing: 1, 3 and 5 are lost; the oldest was reported at 1000.
    assert.deepEqual(ledger.check(Float64Array.from([0, 4, 6])), { lost: 3, lostKeys: 1, deadLettered: 0, oldestLostAt: 1000 })
    assert.deepEqual(ledger.check(Float64Array.from([5, 4, 6])), { lost: 0, lostKeys: 0, deadLettered: 0, oldestLostAt: undefined })
  })

  it('counts the missing writes of dead-lettered keys apart, not as lost', () => {
    const ledger = ledgerOf([[[0, 1, 1], [1, 2, 3], 10]])
    assert.deepEqual(ledger.check(Float64Array.from([0, 0]), new Set([1])), { lost: 1, lostKeys: 1, deadLettered: 2, oldestLostAt: 10 })
  })

  it('grows past its first chunk and saves [key, seq] pairs', () => {
    const n = 70_000
    const keys = Uint32Array.from({ length: n }, (_, i) => i % 7)
    const seqs = Float64Array.from({ length: n }, (_, i) => i + 1)
    const ledger = new AckLedger()
    ledger.add(keys, seqs, 1)
    assert.equal(ledger.count, n)
    const stored = new Float64Array(7).fill(n - 7) // every key holds a write from the last seven rounds but one
    assert.equal(ledger.check(stored).lost, 7)
    const dir = mkdtempSync(join(tmpdir(), 'wb-ledger-'))
    try {
      ledger.save(join(dir, 'acks.bin'))
      const pairs = new Float64Array(readFileSync(join(dir, 'acks.bin')).buffer.slice(0))
      assert.equal(pairs.length, 2 * n)
      assert.deepEqual([pairs[0], pairs[1], pairs[2 * n - 2], pairs[2 * n - 1]], [0, 1, (n - 1) % 7, n])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('cutToLastFsync', () => {
  it('cuts the newest segment back to its fsynced length, or to its header, and leaves older ones whole', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wb-power-'))
    try {
      writeFileSync(join(dir, 'segment-000000000001.wbl'), Buffer.alloc(500))
      writeFileSync(join(dir, 'segment-000000000002.wbl'), Buffer.alloc(400))
      assert.deepEqual(cutToLastFsync(dir, { segment: 'segment-000000000002.wbl', bytes: 150 }), { segment: 'segment-000000000002.wbl', bytesCut: 250 })
      assert.equal(statSync(join(dir, 'segment-000000000002.wbl')).size, 150)
      assert.equal(statSync(join(dir, 'segment-000000000001.wbl')).size, 500)
      // The last fsync named an older segment: nothing of the newest one was synced.
      cutToLastFsync(dir, { segment: 'segment-000000000001.wbl', bytes: 500 })
      assert.equal(statSync(join(dir, 'segment-000000000002.wbl')).size, SEGMENT_HEADER_BYTES)
      assert.equal(statSync(join(dir, 'segment-000000000001.wbl')).size, 500)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('simulator settings', () => {
  it('fills the defaults and refuses unknown fields and out-of-range values, naming them', () => {
    assert.deepEqual(parseSettings({}), DEFAULT_SIM_SETTINGS)
    assert.equal(parseSettings({ durability: 'memory', writers: 2 }).durability, 'memory')
    assert.throws(
      () => parseSettings({ writer: 2 }),
      (e: unknown) => e instanceof InvalidOptionError && /writer/.test(e.message),
    )
    assert.throws(
      () => parseSettings({ writers: 0 }),
      (e: unknown) => e instanceof InvalidOptionError && /writers/.test(e.message),
    )
    assert.throws(() => parseSettings({ writers: 65 }), /at most 64/)
    assert.throws(() => parseSettings({ durability: 'fast' }), /durability/)
    assert.throws(() => parseSettings({ readShare: 1.5 }), /readShare/)
  })
})

describe('promisedLoss', () => {
  it('gives each level its promise for a kill and a power cut', () => {
    assert.equal(promisedLoss('memory', 'kill', 5000).ms, 5000)
    assert.equal(promisedLoss('log', 'kill', 5000).ms, 0)
    assert.equal(promisedLoss('log', 'power', 5000).ms, null)
    assert.equal(promisedLoss('disk', 'power', 5000).ms, 0)
    assert.equal(promisedLoss('memory', 'none', 5000).ms, 0)
  })
})

describe('Sampler', () => {
  const stats = (writes: number, hits: number, misses: number, ops: number, oldest: number): CacheStats =>
    ({
      writes,
      reads: { hits, misses, loads: misses },
      backlog: { entries: 5, bytes: 0, highWaterEntries: 5, oldestDirtyAgeMs: oldest, waitingWrites: 0, maxEntries: Infinity, maxBytes: Infinity },
      flush: { ops },
      coalescingRatio: 2,
      circuit: 'closed',
      deadLetters: 0,
      ack: {
        memory: { count: 0, p50Ms: 0, p95Ms: 0, p99Ms: 0, maxMs: 0 },
        log: { count: 3, p50Ms: 0.1, p95Ms: 0.2, p99Ms: 0.3, maxMs: 1 },
        disk: { count: 0, p50Ms: 0, p95Ms: 0, p99Ms: 0, maxMs: 0 },
        store: { count: 0, p50Ms: 0, p95Ms: 0, p99Ms: 0, maxMs: 0 },
      },
      log: undefined,
    }) as unknown as CacheStats

  it('turns two snapshots into rates over the window between them, and flags staleness', () => {
    const sampler = new Sampler()
    const limits = { maxDelayMs: 5000, stalenessMs: 1000 }
    const first = sampler.next(stats(100, 10, 10, 50, 200), 1000, limits)
    assert.equal(first.writesPerSec, 0)
    const second = sampler.next(stats(300, 40, 20, 150, 1500), 1500, limits)
    assert.equal(second.writesPerSec, 400)
    assert.equal(second.readsPerSec, 80)
    assert.equal(second.hitRatio, 0.75)
    assert.equal(second.rowsPerSec, 200)
    assert.equal(second.stale, true)
    assert.equal(first.stale, false)
    assert.equal(second.backlogCap, null)
    assert.deepEqual(second.ack, { log: { p50Ms: 0.1, p99Ms: 0.3 } })
  })
})

describe('loopbackHost', () => {
  it('accepts the loopback names with the right port and nothing else', () => {
    for (const host of ['127.0.0.1:8080', 'localhost:8080', 'LOCALHOST:8080', '[::1]:8080']) assert.equal(loopbackHost(host, 8080), true, host)
    for (const host of [undefined, '', '127.0.0.1', '127.0.0.1:8081', 'evil.example:8080', 'localhost.evil.example:8080', '127.0.0.1.nip.io:8080', '0.0.0.0:8080']) {
      assert.equal(loopbackHost(host, 8080), false, String(host))
    }
  })
})
