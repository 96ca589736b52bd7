// open() checks the store before it touches anything (store.check(), else ping()), rejects with the
// store's error naming the cause, can skip the check (checkStore: false), and warns
// WB_DEAD_LETTERS when the dead-letter queue it opens is not empty.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { MemoryStore, StoreError, WriteBehindCache } from '../../src/index.js'
import { SqliteStore } from '../../src/stores/sql/sqlite/index.js'
import { FakeClock } from '../../src/testing/fake-clock.js'
import { OutageStore, PoisonStore } from '../helpers/faulty-stores.js'

const root = mkdtempSync(join(tmpdir(), 'wb-open-check-'))
after(() => rmSync(root, { recursive: true, force: true }))
let dirs = 0
const freshDir = (): string => join(root, `dir-${dirs++}`)

class PingableMemoryStore extends MemoryStore {
  async ping(): Promise<void> {}
}

async function readOnlySqlite(): Promise<{ store: SqliteStore; database: Database.Database }> {
  const path = join(root, `ro-${dirs++}.db`)
  const owner = new SqliteStore({ path })
  await owner.writeBatch([])
  await owner.check()
  await owner.close()
  const database = new Database(path, { readonly: true })
  return { store: new SqliteStore({ database }), database }
}

describe('open() checks the store', () => {
  it('rejects with the store check() error, naming the cause, before it creates the dir', async () => {
    const { store, database } = await readOnlySqlite()
    const dir = freshDir()
    await assert.rejects(WriteBehindCache.open({ store, dir, warn: () => {} }), (e: unknown) => {
      assert.ok(e instanceof StoreError && e.scope === 'store', String(e))
      assert.match(e.message, /read-only/)
      return true
    })
    assert.equal(existsSync(dir), false, 'open() touched the dir although the store check failed')
    // checkStore: false opens anyway; the writes wait in the log.
    const clock = new FakeClock()
    const cache = await WriteBehindCache.open({ store, dir, clock, warn: () => {}, checkStore: false, closeTimeoutMs: 1000 })
    await cache.set('k', 1)
    const closing = cache.close()
    for (let i = 0; i < 20; i++) await clock.advance(100)
    const report = await closing
    assert.equal(report.safeInLog, true)
    assert.equal(report.unflushed, 1)
    database.close()
  })

  it('falls back to ping() for a store without check(); a plain error is wrapped in a StoreError', async () => {
    const clock = new FakeClock()
    const down = new OutageStore(new PingableMemoryStore(), clock, { from: 0, to: Infinity })
    await assert.rejects(WriteBehindCache.open({ store: down, clock, warn: () => {} }), { code: 'E_OUTAGE' })
    const odd = Object.assign(new MemoryStore(), {
      check: async (): Promise<void> => {
        throw new Error('no quota left')
      },
    })
    await assert.rejects(WriteBehindCache.open({ store: odd, clock, warn: () => {} }), (e: unknown) => {
      assert.ok(e instanceof StoreError && e.retryable, String(e))
      assert.match(e.message, /no quota left.*checkStore: false/)
      return true
    })
  })

  it('calls check() on every open, and opens when it passes', async () => {
    let checks = 0
    const store = Object.assign(new MemoryStore(), {
      check: async (): Promise<void> => {
        checks++
      },
    })
    const cache = await WriteBehindCache.open({ store, clock: new FakeClock(), warn: () => {} })
    await cache.close()
    assert.equal(checks, 1)
    const skipped = await WriteBehindCache.open({ store, clock: new FakeClock(), warn: () => {}, checkStore: false })
    await skipped.close()
    assert.equal(checks, 1)
    await assert.rejects(WriteBehindCache.open({ store, checkStore: 'no' as never }), /checkStore must be true or false/)
  })
})

describe('open() warns about dead letters', () => {
  it('warns WB_DEAD_LETTERS with the count when the dead-letter queue is not empty', async () => {
    const dir = freshDir()
    const clock = new FakeClock()
    const poison = new PoisonStore(new MemoryStore(), { isPoison: (op) => op.key.startsWith('bad') })
    const first = await WriteBehindCache.open({ store: poison, dir, clock, warn: () => {} })
    await first.set('bad:1', 1)
    await first.set('bad:2', 2)
    await first.set('good', 3)
    let settled = false
    const flushing = first.flush().finally(() => (settled = true))
    // Poison is dead-lettered only after the retries with backoff, once the good write proved the
    // store takes writes: move time on until the flush settles.
    for (let i = 0; i < 600 && !settled; i++) await clock.advance(1000)
    await flushing
    assert.equal(first.deadLetters().length, 2)
    await first.close()

    const warnings: [string, string][] = []
    const second = await WriteBehindCache.open({ store: new MemoryStore(), dir, clock, warn: (code, message) => warnings.push([code, message]) })
    const dead = warnings.filter(([code]) => code === 'WB_DEAD_LETTERS')
    assert.equal(dead.length, 1, JSON.stringify(warnings))
    assert.match(dead[0]?.[1] ?? '', /holds 2 writes.*dlq list/)
    await second.dropDeadLetters()
    await second.close()

    const quiet: string[] = []
    const third = await WriteBehindCache.open({ store: new MemoryStore(), dir, clock, warn: (code) => quiet.push(code) })
    assert.equal(quiet.includes('WB_DEAD_LETTERS'), false)
    await third.close()
  })
})
