/**
 * A write rejected because its log record could not be written is not applied: not in memory, not
 * in the backlog, not in the store (issue 10.1). The log's segment fd is swapped for /dev/full
 * (write(2) fails with ENOSPC, as on a full disk) between the writes and the write(2).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { closeSync, existsSync, openSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LogFailedError, MemoryStore, WriteBehindCache, type CacheOptions } from '../../src/index.js'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { DirtyLog } from '../../src/log/dirty-log.js'
import { GatedStore } from '../helpers/faulty-stores.js'

async function withCache(options: Partial<CacheOptions>, fn: (cache: WriteBehindCache<string>, store: MemoryStore) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'wb-log-fail-'))
  const store = new MemoryStore()
  const cache = await WriteBehindCache.open<string>({ store, dir, warn: () => {}, flush: { intervalMs: 60_000 }, ...options })
  try {
    await fn(cache, store)
  } finally {
    await cache.close().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  }
}

/** Makes the log's next write(2) fail: /dev/full takes the segment's fd number (ENOSPC), else EBADF. */
function breakLog(cache: WriteBehindCache<string>): void {
  const log = (cache as unknown as { engine: { tier: { log: { active: { fd: number } } } } }).engine.tier.log
  const fd = log.active.fd
  closeSync(fd)
  if (existsSync('/dev/full')) {
    const full = openSync('/dev/full', 'w')
    if (full !== fd) closeSync(full)
  }
}

const isLogFailed = (e: unknown): boolean => e instanceof LogFailedError && e.code === 'E_LOG_FAILED'

describe('a write rejected by a failed log write is not applied', () => {
  for (const logWriteScheduling of ['microtask', 'immediate'] as const) {
    for (const coalesce of [true, false]) {
      for (const durability of ['log', 'disk'] as const) {
        it(`balance 'A' acknowledged, 'B' rejected: get() and the store say 'A' (${logWriteScheduling}, coalesce ${coalesce}, ${durability})`, async () => {
          await withCache({ logWriteScheduling, coalesce, durability }, async (cache, store) => {
            await cache.set('balance', 'A')
            const b = cache.set('balance', 'B')
            const fresh = cache.set('fresh', 'new key')
            breakLog(cache)
            await assert.rejects(b, isLogFailed)
            await assert.rejects(fresh, isLogFailed)
            assert.equal(await cache.get('balance'), 'A')
            assert.equal(await cache.get('fresh'), undefined, 'a key only a rejected write made is gone')
            await assert.rejects(cache.set('balance', 'C'), isLogFailed, 'later writes are refused')
            await cache.flush()
            assert.equal(store.snapshot().get('balance'), 'A')
            assert.equal(store.snapshot().has('fresh'), false)
            assert.equal(await cache.get('balance'), 'A')
          })
        })
      }
    }
  }

  it("an acknowledged 'memory' write in the same failed write(2) survives; the rejected one after it does not", async () => {
    for (const coalesce of [true, false]) {
      await withCache({ coalesce }, async (cache, store) => {
        await cache.set('balance', 'old')
        await cache.set('balance', 'A', { durability: 'memory' })
        const b = cache.set('balance', 'B')
        const c = cache.set('balance', 'C', { durability: 'memory' })
        const d = cache.set('balance', 'D')
        breakLog(cache)
        await c
        await assert.rejects(b, isLogFailed)
        await assert.rejects(d, isLogFailed)
        assert.equal(await cache.get('balance'), 'C')
        await cache.flush()
        assert.equal(store.snapshot().get('balance'), 'C')
        assert.equal(store.versionOf('balance') !== undefined, true)
      })
    }
  })

  it("a 'memory' write whose background log write fails stays acknowledged: served and flushed; later writes are refused", async () => {
    await withCache({ durability: 'memory' }, async (cache, store) => {
      const warnings: string[] = []
      cache.on('warning', (w) => warnings.push(w.code))
      await cache.set('balance', 'A')
      breakLog(cache)
      await new Promise<void>((resolve) => setImmediate(resolve)) // the turn's background write(2) fails
      assert.deepEqual(warnings, ['WB_LOG_FAILED'])
      assert.equal(await cache.get('balance'), 'A')
      await assert.rejects(cache.set('balance', 'B'), isLogFailed)
      await cache.flush()
      assert.equal(store.snapshot().get('balance'), 'A')
    })
  })

  it('the flusher taking a batch between the append and the write(2) sends the acknowledged value, not the rejected one', async () => {
    for (const logWriteScheduling of ['microtask', 'immediate'] as const) {
      // triggerEntries 1: every write queues a pump, in a microtask queued before the log's write(2)
      await withCache({ logWriteScheduling, flush: { intervalMs: 60_000, triggerEntries: 1 } }, async (cache, store) => {
        await cache.set('balance', 'A')
        await cache.flush()
        const b = cache.set('balance', 'B')
        breakLog(cache)
        await assert.rejects(b, isLogFailed)
        await cache.flush()
        assert.equal(store.snapshot().get('balance'), 'A')
        assert.equal(await cache.get('balance'), 'A')
        assert.equal(cache.stats().backlog.entries, 0)
      })
    }
  })

  it('a write in flight to the store keeps its value when a later write of its key is rejected', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wb-log-fail-'))
    const store = new MemoryStore()
    const gated = new GatedStore(store)
    const cache = await WriteBehindCache.open<string>({ store: gated, dir, warn: () => {}, flush: { intervalMs: 60_000 } })
    try {
      await cache.set('balance', 'A')
      const flushing = cache.flush()
      await gated.nextBatch() // 'A' is in flight
      const b = cache.set('balance', 'B')
      breakLog(cache)
      await assert.rejects(b, isLogFailed)
      assert.equal(await cache.get('balance'), 'A')
      await gated.open()
      await flushing
      await cache.flush()
      assert.equal(store.snapshot().get('balance'), 'A')
      assert.equal(cache.stats().backlog.entries, 0)
      assert.equal(cache.stats().memory.entries, 1)
    } finally {
      await cache.close().catch(() => {})
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('a write(2) cut short by a full disk', () => {
  it('is cut back off the segment, so a restart after a crash does not recover the rejected writes whose records were whole', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wb-log-full-'))
    try {
      const child = fileURLToPath(new URL('../helpers/log-full-disk-child.ts', import.meta.url))
      // 16 KiB file size limit; node ignores SIGXFSZ, so the write fails with EFBIG instead.
      const result = spawnSync('bash', ['-c', 'ulimit -f 16; exec "$0" "$@"', process.execPath, '--import', 'tsx', child, dir], { encoding: 'utf8' })
      assert.equal(result.status, 0, result.stderr)
      assert.deepEqual(JSON.parse(result.stdout), { small: 'E_LOG_FAILED', big: 'E_LOG_FAILED', balance: 'A' })
      const { log, recovered } = await DirtyLog.open({ dir })
      await log.close()
      const keys = recovered.records.map((r) => r.key)
      assert.ok(!keys.includes('small') && !keys.includes('big'), `recovered ${JSON.stringify(keys)}`)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
