/**
 * Global order (`flush.order: 'global'`) across kill -9: a child writes random keys through a
 * cache over SQLite, flushing all the time in small batches, and is killed at a random moment,
 * three times over one dir. Then the dir is opened over a store that records which versions
 * change it, in the order they take effect, and flushed. Global order means the store only ever
 * holds a state the cache went through: after a restart, every version that lands is above every
 * version the store held before (the log's replay never lands an older write past a newer one),
 * and they land strictly increasing. And nothing acknowledged is lost: each key ends at least at
 * its last acknowledged value.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { WriteBehindCache, type BatchResult, type LoadedEntry, type Store, type StoreOp } from '../../src/index.js'
import { SqliteStore } from '../../src/stores/sql/sqlite/index.js'
import { runUntilKilled } from '../helpers/kill-child.js'

const child = fileURLToPath(new URL('../helpers/global-order-child.ts', import.meta.url))
const KEYS = Array.from({ length: 40 }, (_, i) => `k${i}`)

/** Runs the child until it acknowledged `acks` sets, then SIGKILLs it; records the last acked seq per key. */
async function writeThenKill(dir: string, db: string, seed: number, acks: number, acked: Map<string, number>): Promise<void> {
  let seen = 0
  await runUntilKilled(child, [dir, db, String(seed), String(seed * 1_000_000)], (line) => {
    const [, key, seq] = line.split(' ')
    acked.set(key as string, Number(seq))
    return ++seen >= acks
  })
}

/** Wraps a store and records the versions that change it, in the order they take effect. */
class Recording implements Store {
  readonly applied: number[] = []
  constructor(private readonly inner: SqliteStore) {}
  ping(): Promise<void> {
    return this.inner.ping()
  }
  load(keys: readonly string[]): Promise<Map<string, LoadedEntry>> {
    return this.inner.load(keys)
  }
  async writeBatch(ops: readonly StoreOp[]): Promise<BatchResult | void> {
    const held = new Map<string, number>()
    for (const [key, entry] of await this.inner.load([...new Set(ops.map((op) => op.key))])) held.set(key, entry.version)
    const changed: number[] = []
    for (const op of ops) {
      if (op.version <= (held.get(op.key) ?? 0)) continue // fenced: changes nothing
      changed.push(op.version)
      held.set(op.key, op.version)
    }
    const result = await this.inner.writeBatch(ops)
    this.applied.push(...changed)
    return result
  }
  close(): Promise<void> {
    return this.inner.close()
  }
}

describe('global order across kill -9', () => {
  it('after a restart, the replayed writes land above all the store held, in version order, and none acknowledged is lost', async () => {
    const root = await mkdtemp(join(tmpdir(), 'wb-global-crash-'))
    try {
      const dir = join(root, 'cache')
      const db = join(root, 'store.db')
      const acked = new Map<string, number>()
      for (const [seed, acks] of [
        [1, 400],
        [2, 900],
        [3, 650],
      ] as const) {
        await writeThenKill(dir, db, seed, acks, acked)
      }
      const inner = new SqliteStore({ path: db })
      const before = Math.max(0, ...[...(await inner.load(KEYS)).values()].map((e) => e.version))
      const store = new Recording(inner)
      const cache = await WriteBehindCache.open<{ seq: number }>({ store, dir, flush: { order: 'global', batchSize: 5 } })
      assert.ok((cache.recovery?.records ?? 0) > 0, 'the log had writes to replay (else this checks nothing)')
      await cache.flush()
      assert.ok(store.applied.length > 0, 'the replay landed something')
      assert.ok(store.applied[0]! > before, `the first replayed write (v${store.applied[0]}) lands above all the store held (v${before})`)
      for (let i = 1; i < store.applied.length; i++) assert.ok(store.applied[i]! > store.applied[i - 1]!, `versions land in order: v${store.applied[i - 1]} then v${store.applied[i]}`)
      const stored = await inner.load(KEYS)
      for (const [key, seq] of acked) {
        const entry = stored.get(key)
        const value = (entry?.encoded === undefined ? entry?.value : JSON.parse(entry.encoded)) as { seq: number } | undefined
        assert.ok(value !== undefined && value.seq >= seq, `${key}: acknowledged seq ${seq}, store has ${JSON.stringify(value)}`)
      }
      await cache.close()
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})
