/**
 * A real /metrics over HTTP: a cache over SQLite with a dirty log, under a concurrent write load
 * (sets, deletes, increments at `log` and `disk` durability) with its flush running on real
 * timers, scraped by `fetch` from an `http` server serving a prom-client registry. A scrape in the
 * middle of the load lies between two `stats()` snapshots taken around it; after `flush()` every
 * figure equals `stats()` (counted from registration on).
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { WriteBehindCache, type CacheStats } from '../../src/index.js'
import { registerPrometheus, type PrometheusHandle } from '../../src/prometheus/index.js'
import { SqliteStore } from '../../src/stores/sql/sqlite/index.js'
import { DURABILITIES } from '../../src/contracts/options.js'
import { parseExposition, sum, type Exposition } from '../helpers/exposition.js'

/** Distinct keys the load writes: 250 users and a counter per writer. */
const KEYS = 250 + 4
/** Concurrent writers, each awaiting its writes one by one. */
const WRITERS = 4
const work = mkdtempSync(join(tmpdir(), 'wb-scrape-'))
const register = new Registry()
let server: Server
let url = ''
let cache: WriteBehindCache
let store: SqliteStore
let handle: PrometheusHandle
/** `stats()` when the adapter was registered: channel-fed figures count from there. */
let atRegistration: CacheStats

async function scrape(): Promise<{ exposition: Exposition; contentType: string | null }> {
  const response = await fetch(url)
  assert.equal(response.status, 200)
  return { exposition: parseExposition(await response.text()), contentType: response.headers.get('content-type') }
}

describe('GET /metrics from a cache under load', () => {
  before(async () => {
    store = new SqliteStore({ path: join(work, 'store.db') })
    cache = await WriteBehindCache.open({ store, dir: join(work, 'log'), name: 'scraped', flush: { intervalMs: 20, batchSize: 64 }, warn: () => {} })
    atRegistration = cache.stats()
    handle = registerPrometheus(cache, { register, labels: { instance: 'test' } })
    server = createServer((request, response) => {
      register.metrics().then(
        (text) => response.writeHead(200, { 'content-type': register.contentType }).end(text),
        (error: unknown) => response.writeHead(500).end(String(error)),
      )
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`
  })
  after(async () => {
    handle.unregister()
    await new Promise((resolve) => server.close(resolve))
    await cache.close()
    await store.close()
    rmSync(work, { recursive: true, force: true })
  })

  it('serves figures that lie between stats() before and after a scrape during the load, and equal stats() once flushed', async () => {
    const counts = { set: 0, delete: 0, merge: 0, disk: 0 }
    let scrapedDuringLoad = 0
    const writer = async (id: number): Promise<void> => {
      for (let i = 0; i < 400; i++) {
        const key = `user:${(id * 7919 + i * 31) % 250}`
        if (i % 10 === 9) {
          counts.delete++
          await cache.delete(key)
        } else if (i % 10 === 5) {
          counts.merge++
          await cache.increment(`hits:${id}`)
        } else if (i % 50 === 7) {
          counts.set++
          counts.disk++
          await cache.set(key, { id, i }, { durability: 'disk' })
        } else {
          counts.set++
          await cache.set(key, { id, i })
        }
        if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve))
      }
    }
    const scraper = async (): Promise<void> => {
      for (let round = 0; round < 3; round++) {
        const before = cache.stats()
        const { exposition } = await scrape()
        const after = cache.stats()
        const written = sum(exposition, 'writebehind_writes_total', { cache: 'scraped', result: 'ok' })
        // stats() counts a write when it is made, the channel when it is acknowledged: each writer
        // may have one write made and not yet acknowledged.
        const made = (stats: CacheStats): number => stats.writes - atRegistration.writes
        assert.ok(written >= made(before) - WRITERS && written <= made(after), `${written} writes scraped, between ${made(before)} - ${WRITERS} and ${made(after)}`)
        const flushed = sum(exposition, 'writebehind_flush_ops_total', { outcome: 'applied' }) + sum(exposition, 'writebehind_flush_ops_total', { outcome: 'fenced' })
        assert.ok(flushed >= before.flush.ops + before.flush.superseded && flushed <= after.flush.ops + after.flush.superseded, `${flushed} flushed ops scraped`)
        const entries = sum(exposition, 'writebehind_backlog_entries', { cache: 'scraped' })
        // Coalesced: a key is dirty once, and may have one more entry in flight (never in two).
        assert.ok(entries >= 0 && entries <= 2 * KEYS, `${entries} entries: at most two per key`)
        scrapedDuringLoad++
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    }
    await Promise.all([writer(1), writer(2), writer(3), writer(4), scraper()])
    assert.equal(scrapedDuringLoad, 3)
    await cache.flush()

    const { exposition, contentType } = await scrape()
    const stats = cache.stats()
    assert.equal(contentType, register.contentType)
    const where = { cache: 'scraped', instance: 'test' }
    assert.equal(sum(exposition, 'writebehind_writes_total', { ...where, op: 'set', result: 'ok' }), counts.set)
    assert.equal(sum(exposition, 'writebehind_writes_total', { ...where, op: 'delete', result: 'ok' }), counts.delete)
    assert.equal(sum(exposition, 'writebehind_writes_total', { ...where, op: 'merge', result: 'ok' }), counts.merge)
    assert.equal(sum(exposition, 'writebehind_writes_total', { ...where, durability: 'disk' }), counts.disk)
    assert.equal(sum(exposition, 'writebehind_writes_total', { ...where, result: 'ok' }), stats.writes - atRegistration.writes)
    assert.equal(sum(exposition, 'writebehind_writes_total', { ...where, result: 'failed' }), 0)
    for (const level of DURABILITIES) {
      assert.equal(sum(exposition, 'writebehind_ack_duration_seconds_count', { ...where, durability: level }), stats.ack[level].count - atRegistration.ack[level].count, level)
    }
    const flushed = sum(exposition, 'writebehind_flush_ops_total', { ...where, outcome: 'applied' }) + sum(exposition, 'writebehind_flush_ops_total', { ...where, outcome: 'fenced' })
    assert.equal(flushed, stats.flush.ops + stats.flush.superseded - atRegistration.flush.ops - atRegistration.flush.superseded)
    assert.ok(flushed > 0 && flushed < counts.set + counts.delete + counts.merge, 'coalesced: fewer ops flushed than written')
    assert.equal(sum(exposition, 'writebehind_flush_duration_seconds_count', where), stats.flush.batchDuration.count - atRegistration.flush.batchDuration.count)
    assert.equal(sum(exposition, 'writebehind_flush_batch_size_sum', where), flushed)
    assert.equal(sum(exposition, 'writebehind_log_fsync_duration_seconds_count', where), stats.log!.fsyncs - atRegistration.log!.fsyncs)
    assert.ok(sum(exposition, 'writebehind_log_fsync_duration_seconds_count', where) > 0, 'disk writes fsynced')
    assert.equal(sum(exposition, 'writebehind_backlog_entries', where), stats.backlog.entries)
    assert.equal(sum(exposition, 'writebehind_backlog_bytes', where), stats.backlog.bytes)
    assert.equal(sum(exposition, 'writebehind_backlog_oldest_age_seconds', where), stats.backlog.oldestDirtyAgeMs / 1000)
    assert.equal(sum(exposition, 'writebehind_backlog_max_entries', where), stats.backlog.maxEntries)
    assert.equal(sum(exposition, 'writebehind_log_bytes', where), stats.log!.bytes)
    assert.equal(sum(exposition, 'writebehind_log_segments', where), stats.log!.segments)
    assert.equal(sum(exposition, 'writebehind_dead_letters', where), 0)
    assert.equal(sum(exposition, 'writebehind_circuit_open', where), 0)
  })
})
