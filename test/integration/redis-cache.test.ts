/**
 * `WriteBehindCache.open({ store, tier: new RedisTier(…) })` end to end, on a redis-server of the
 * test's own and real stores (SQLite, PostgreSQL): round trip, read-through filling Redis,
 * coalescing, delete ordering, write-through, two caches on one name in one process (read-your-writes
 * across instances, either may flush), backpressure, and the options the tier refuses. Each on
 * ioredis and on node-redis (`CLIENT_KINDS`).
 */
import assert from 'node:assert/strict'
import diagnosticsChannel from 'node:diagnostics_channel'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, it } from 'node:test'
import Database from 'better-sqlite3'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { RemoteCache } from '../../src/core/remote/remote-cache.js'
import { BacklogFullError, InvalidOptionError } from '../../src/errors.js'
import { CHANNELS, type StoreBatchContext, type WriteMessage } from '../../src/contracts/diagnostics.js'
import { RedisTier } from '../../src/redis.js'
import { MemoryStore } from '../../src/stores/memory-store.js'
import { PoisonStore } from '../helpers/faulty-stores.js'
import { SqliteStore } from '../../src/stores/sql/sqlite/index.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { pgPool, uniqueName } from '../helpers/store-servers.js'
import { describeEachServer, type ServerInUse } from '../helpers/each-server.js'
import { CLIENT_KINDS } from '../helpers/tier-clients.js'

let own: ServerInUse
const dir = mkdtempSync(join(tmpdir(), 'wb-redis-cache-'))
let n = 0

after(() => rmSync(dir, { recursive: true, force: true }))

async function tier(name: string, options: { shards?: number } = {}): Promise<RedisTier> {
  const client = await own.tierClient()
  return new RedisTier({ client, name, shards: options.shards ?? 4 })
}

interface Row {
  key: string
  value: string | null
  version: number
  deleted: number
}

function rows(path: string): Map<string, Row> {
  const db = new Database(path, { readonly: true })
  try {
    const all = db.prepare('SELECT key, value, version, deleted FROM writebehind_entries').all() as Row[]
    return new Map(all.map((r) => [r.key, r]))
  } finally {
    db.close()
  }
}

/** A cache on SQLite that flushes only when asked (a long interval), so tests see exactly what flush() sends. */
async function sqliteCache(name = `c${++n}`, extra: Record<string, unknown> = {}): Promise<{ cache: WriteBehindCache; path: string; store: SqliteStore }> {
  const path = join(dir, `${name}.db`)
  const store = new SqliteStore({ path })
  const cache = await WriteBehindCache.open({ store, tier: await tier(name), flush: { intervalMs: 60_000, maxDelayMs: 60_000 }, ...extra })
  return { cache, path, store }
}

/** The suite, run on each server binary (`SERVER_BINARIES`, at the end). */
function suite(): void {
  it('writes, reads its own writes, deletes and flushes into SQLite; stats show the tier drained', async () => {
    const { cache, path } = await sqliteCache()
    assert.ok(cache instanceof WriteBehindCache)
    await cache.set('player:1', { score: 1 })
    await cache.set('player:2', { score: 2 })
    await cache.delete('player:2')
    assert.deepEqual(await cache.get('player:1'), { score: 1 })
    assert.equal(await cache.get('player:2'), undefined)
    assert.equal(cache.stats().backlog.entries, 2)
    const report = await cache.flush()
    assert.deepEqual(report, { deadLettered: [], superseded: [] })
    const stored = rows(path)
    assert.equal(stored.get('player:1')?.value, '{"score":1}')
    assert.equal(stored.get('player:2')?.deleted, 1, 'the delete is a tombstone')
    assert.equal(cache.stats().backlog.entries, 0)
    assert.equal(cache.stats().backlog.oldestDirtyAgeMs, 0)
    const closed = await cache.close()
    assert.equal(closed.drained, true)
    assert.equal(closed.unflushed, 0)
  })

  it('measures acks and publishes on the diagnostics channels under the cache name, like the embedded tier', async () => {
    const name = `diag${++n}`
    const { cache } = await sqliteCache(name, { name })
    const seen: WriteMessage[] = []
    const batches: StoreBatchContext[] = []
    const onWrite = (message: unknown): void => void seen.push(message as WriteMessage)
    const trace = diagnosticsChannel.tracingChannel(CHANNELS.storeBatch)
    const onBatch = { asyncEnd: (context: unknown) => void batches.push(context as StoreBatchContext) }
    diagnosticsChannel.subscribe(CHANNELS.write, onWrite)
    trace.subscribe(onBatch as Parameters<typeof trace.subscribe>[0])
    try {
      await cache.set('a', 1)
      await cache.setMany([
        ['b', 2],
        ['c', 3],
      ])
      await cache.delete('a')
      await cache.flush()
    } finally {
      diagnosticsChannel.unsubscribe(CHANNELS.write, onWrite)
      trace.unsubscribe(onBatch as Parameters<typeof trace.subscribe>[0])
    }
    const mine = seen.filter((m) => m.cache === name)
    assert.deepEqual(
      mine.map((m) => [m.op, m.key, m.durability, m.ok]),
      [
        ['set', 'a', 'memory', true],
        ['set', 'b', 'memory', true],
        ['set', 'c', 'memory', true],
        ['delete', 'a', 'memory', true],
      ],
    )
    for (const m of mine) assert.ok(m.durationMs > 0, 'a write that waits for Redis is timed')
    const { ack, flush } = cache.stats()
    assert.equal(ack.memory.count, 4)
    assert.ok(ack.memory.maxMs > 0)
    const traced = batches.filter((b) => b.cache === name)
    assert.equal(
      traced.reduce((sum, b) => sum + b.ops, 0),
      3,
      'the store batch trace carries the name and the ops',
    )
    assert.equal(flush.batchOps.count, traced.length)
    await cache.close()
  })

  it('reads a miss through the store and fills Redis with a clean entry', async () => {
    const name = `c${++n}`
    const path = join(dir, `${name}.db`)
    const seed = new SqliteStore({ path })
    await seed.writeBatch([{ kind: 'set', key: 'old', value: { from: 'store' }, encoded: '{"from":"store"}', version: 5 }])
    await seed.close()
    const { cache } = await sqliteCache(name)
    assert.deepEqual(await cache.getMany(['old', 'none']), [{ from: 'store' }, undefined])
    assert.equal(cache.stats().reads.misses, 2)
    assert.deepEqual(await cache.get('old'), { from: 'store' })
    assert.equal(cache.stats().reads.hits, 1, 'the second read is served by Redis')
    assert.equal(cache.stats().backlog.entries, 0, 'a filled entry is clean')
    await cache.close()
  })

  it('coalesces: many writes of few keys become one store op per key', async () => {
    const { cache, path } = await sqliteCache()
    for (let i = 1; i <= 50; i++) await Promise.all(['a', 'b', 'c'].map((k) => cache.set(k, i)))
    await cache.flush()
    const stats = cache.stats()
    assert.equal(stats.flush.ops, 3)
    assert.equal(stats.writes, 150)
    assert.deepEqual([...rows(path).values()].map((r) => [r.key, r.value]).sort(), [
      ['a', '50'],
      ['b', '50'],
      ['c', '50'],
    ])
    await cache.close()
  })

  it('keeps per-key order: put then delete ends deleted, delete then put ends present', async () => {
    const { cache, path } = await sqliteCache()
    await cache.set('x', 1)
    await cache.flush()
    await cache.set('x', 2)
    await cache.delete('x')
    await cache.delete('y')
    await cache.set('y', 'back')
    await cache.flush()
    const stored = rows(path)
    assert.equal(stored.get('x')?.deleted, 1)
    assert.equal(stored.get('y')?.deleted, 0)
    assert.equal(stored.get('y')?.value, '"back"')
    await cache.close()
  })

  it('write-through (durability store) resolves once the store holds the write, without waiting for the interval', { timeout: 20_000 }, async () => {
    const { cache, path } = await sqliteCache()
    await cache.set('now', 'stored', { durability: 'store' })
    assert.equal(rows(path).get('now')?.value, '"stored"')
    await cache.close()
  })

  it('two caches on one name: each reads the other’s writes, and either flushes them', async () => {
    const name = `shared${++n}`
    const path = join(dir, `${name}.db`)
    const open = async (): Promise<WriteBehindCache> => WriteBehindCache.open({ store: new SqliteStore({ path }), tier: await tier(name), flush: { intervalMs: 60_000, maxDelayMs: 60_000 } })
    const a = await open()
    const b = await open()
    await a.set('k', 'from a')
    assert.equal(await b.get('k'), 'from a')
    await b.set('k', 'from b')
    assert.equal(await a.get('k'), 'from b')
    await a.flush() // a flushes b's latest value: the dirty set is shared
    assert.equal(rows(path).get('k')?.value, '"from b"')
    assert.equal(b.stats().backlog.entries, 0)
    await b.flush()
    await Promise.all([a.close(), b.close()])
  })

  it('applies whenFull at the shard cap: reject, or write through', async () => {
    const rejecting = await sqliteCache(undefined, { backlog: { maxEntries: 4, whenFull: 'reject' } })
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => rejecting.cache.set(`k${i}`, i)))
    const refused = results.filter((r) => r.status === 'rejected')
    assert.ok(refused.length > 0)
    for (const r of refused) assert.ok(r.status === 'rejected' && r.reason instanceof BacklogFullError)
    assert.equal(rejecting.cache.stats().ack.memory.count, 40 - refused.length, 'a refused write is not an acknowledged one')
    await rejecting.cache.close()
    const through = await sqliteCache(undefined, { backlog: { maxEntries: 4, whenFull: 'store' } })
    await Promise.all(Array.from({ length: 40 }, (_, i) => through.cache.set(`k${i}`, i)))
    await through.cache.flush()
    assert.equal(rows(through.path).size, 40)
    assert.equal(through.cache.stats().ack.memory.count, 40, 'a write that fell back to the store counts at the level it asked for')
    await through.cache.close()
  })

  // The suite's 60 s interval: a write waiting at a full shard starts a flush itself, far below the tier's `triggerEntries`.
  it('applies whenFull wait at the shard cap: every write waits for room, none is lost, none waits for the interval', { timeout: 30_000 }, async () => {
    const waiting = await sqliteCache(undefined, { backlog: { maxEntries: 4, whenFull: 'wait' } })
    const batches: number[] = []
    waiting.cache.on('flush', (e) => batches.push(e.ops))
    // A bound of the test's own, far below the interval: on the old code the writes fail it, not the test's timeout.
    let deadline: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => (deadline = setTimeout(() => reject(new Error('the waiting writes took over 10 s: they waited for the 60 s interval')), 10_000)))
    try {
      await Promise.race([Promise.all(Array.from({ length: 40 }, (_, i) => waiting.cache.set(`k${i}`, i))), late])
    } finally {
      clearTimeout(deadline)
    }
    assert.ok(batches.length <= 20, `${batches.length} flushes (${batches.join()} ops) for 40 writes at a cap of 4: one flush per waiting write`)
    await waiting.cache.flush()
    assert.equal(rows(waiting.path).size, 40)
    assert.equal(waiting.cache.stats().ack.memory.count, 40)
    await waiting.cache.close()
  })

  it("whenFull wait at a shard another instance filled: the waiting instance flushes the other's keys, without waiting for the interval", { timeout: 30_000 }, async () => {
    const name = `full${++n}`
    const path = join(dir, `${name}.db`)
    const open = async (whenFull: 'wait' | 'reject'): Promise<WriteBehindCache> =>
      WriteBehindCache.open({ store: new SqliteStore({ path }), tier: await tier(name), backlog: { maxEntries: 4, whenFull }, flush: { intervalMs: 60_000, maxDelayMs: 60_000 } })
    const waiter = await open('wait') // opened first: its view of the tier has none of the filler's keys
    const filler = await open('reject')
    const filled = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => filler.set(`f${i}`, i)))
    assert.equal(filled.filter((r) => r.status === 'fulfilled').length, 4, 'one dirty key per shard: every shard is full')
    let deadline: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => (deadline = setTimeout(() => reject(new Error("the write took over 10 s: it waited for the waiter's 60 s poll")), 10_000)))
    try {
      await Promise.race([waiter.set('w', 1), late])
    } finally {
      clearTimeout(deadline)
    }
    await waiter.flush()
    assert.equal(rows(path).size, 5)
    await Promise.all([waiter.close(), filler.close()])
  })

  it('a write the store holds a newer version of is reported superseded, dropped from Redis, and versions move above the store', { timeout: 60_000 }, async () => {
    const store = new MemoryStore()
    const ahead = 2 ** 52
    await store.writeBatch([{ kind: 'set', key: 'k', value: 'from elsewhere', encoded: '"from elsewhere"', version: ahead }])
    const t = await tier(`sup${++n}`)
    const cache = await WriteBehindCache.open({ store, tier: t })
    await cache.set('k', 'mine')
    const report = await cache.flush()
    assert.deepEqual(
      report.superseded.map((w) => [w.key, w.storeVersion]),
      [['k', ahead]],
    )
    assert.deepEqual(await t.read(['k']), [undefined], 'the Redis copy was dropped: the next read loads the store')
    await cache.set('k', 'newer')
    const again = await cache.flush({ timeoutMs: 20_000 })
    assert.deepEqual(again.superseded, report.superseded, 'the shard floor rose above the store: the next write is newer')
    assert.equal(store.snapshot().get('k'), 'newer')
    assert.equal(await cache.get('k'), 'newer')
    await cache.close()
  })

  it('dead-letters a write the store refuses into the shard stream, keeps serving it, and a newer write lands', { timeout: 60_000 }, async () => {
    const inner = new MemoryStore()
    const store = new PoisonStore(inner, { isPoison: (op) => op.kind === 'set' && op.value === 'poison', mode: 'per-op' })
    const t = await tier(`dlq${++n}`)
    const cache = await WriteBehindCache.open({ store, tier: t, retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 } })
    const letters: string[] = []
    cache.on('dead-letter', (e) => letters.push(e.key))
    await Promise.all([cache.set('bad', 'poison'), ...Array.from({ length: 5 }, (_, i) => cache.set(`good${i}`, i))])
    const report = await cache.flush({ timeoutMs: 20_000 })
    assert.deepEqual(
      report.deadLettered.map((l) => [l.key, l.encoded]),
      [['bad', '"poison"']],
    )
    assert.deepEqual(letters, ['bad'])
    const admin = own.client()
    const stream = (await admin.xrange(t.layout.dlq(t.layout.shardOf('bad')), '-', '+')) as Array<[string, string[]]>
    assert.equal(stream.length, 1)
    assert.deepEqual(stream[0]?.[1].slice(0, 4), ['key', 'bad', 'version', String(report.deadLettered[0]?.version)])
    const fields = new Map<string, string>()
    const flat = stream[0]?.[1] ?? []
    for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i] as string, flat[i + 1] as string)
    assert.equal(fields.get('payload'), '"poison"')
    assert.equal(fields.get('attempts'), String(report.deadLettered[0]?.attempts))
    assert.match(fields.get('error') ?? '', /poison/i)
    assert.equal(await cache.get('bad'), 'poison', 'a dead letter is still served')
    assert.equal(cache.stats().backlog.entries, 0, 'and no longer dirty')
    await cache.set('bad', 'fine')
    await cache.flush()
    assert.equal(inner.snapshot().get('bad'), 'fine')
    // The letters are read back (XRANGE through the tier's client) and dropped.
    await Promise.all([cache.set('bad2', 'poison'), ...Array.from({ length: 5 }, (_, i) => cache.set(`more${i}`, i))])
    await cache.flush({ timeoutMs: 20_000 })
    assert.equal(await cache.dropDeadLetters({ keys: ['bad2'] }), 1)
    assert.ok((await cache.dropDeadLetters()) >= 1, "the first letter, though its key's newer write landed")
    for (const key of ['bad', 'bad2']) assert.equal(await admin.xlen(t.layout.dlq(t.layout.shardOf(key))), 0)
    await cache.close()
  })

  it('flushes into PostgreSQL too', async () => {
    const pool = await pgPool()
    const table = uniqueName('redis')
    const name = `pg${++n}`
    try {
      const cache = await WriteBehindCache.open({ store: new PostgresStore({ pool, table }), tier: await tier(name) })
      await cache.setMany([
        ['a', 1],
        ['b', { nested: [true] }],
      ])
      await cache.delete('a')
      await cache.flush()
      const { rows: stored } = await pool.query<{ key: string; value: unknown; deleted: boolean }>(`SELECT key, value, deleted FROM ${table} ORDER BY key`)
      assert.deepEqual(
        stored.map((r) => [r.key, r.deleted, r.value]),
        [
          ['a', true, null],
          ['b', false, { nested: [true] }],
        ],
      )
      await cache.close()
    } finally {
      await pool.query(`DROP TABLE IF EXISTS ${table}`)
      await pool.end()
    }
  })

  it('refuses options that do not go with a tier, and replicated durability without one', async () => {
    const store = new SqliteStore({ path: join(dir, 'refused.db') })
    await assert.rejects(WriteBehindCache.open({ store, tier: await tier('r1'), dir: join(dir, 'd') }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'dir')
    await assert.rejects(WriteBehindCache.open({ store, tier: await tier('r2'), durability: 'log' }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'durability')
    await assert.rejects(WriteBehindCache.open({ store, tier: { kind: 'other' } }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'tier')
    await assert.rejects(WriteBehindCache.open({ store, durability: 'replicated' }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'durability')
    await store.close()
  })

  it('overrides every public method of the embedded facade (a method added there must be added here)', () => {
    const source = readFileSync(new URL('../../src/core/write-behind-cache.ts', import.meta.url), 'utf8')
    const body = source.slice(source.indexOf('export class WriteBehindCache'))
    const publicMethods = [...body.matchAll(/^ {2}(?!private |protected |static |constructor)(?:async )?(?:get )?([a-zA-Z]\w*)[<(]/gm)].map((m) => m[1] as string)
    assert.ok(publicMethods.includes('set') && publicMethods.includes('close') && publicMethods.includes('recovery'), publicMethods.join())
    const missing = publicMethods.filter((name) => !Object.prototype.hasOwnProperty.call(RemoteCache.prototype, name))
    assert.deepEqual(missing, [])
  })
}

describeEachServer(
  (binary, kind) => `a cache on a Redis tier (${binary}, ${kind})`,
  (current) => (own = current),
  suite,
  CLIENT_KINDS,
)
