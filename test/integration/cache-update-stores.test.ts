// update() and getOrSet() against real stores (SQLite, PostgreSQL): a key cold in the table is read
// through once, 100 concurrent updates all land as one row, and a shared loader writes one row.
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type pg from 'pg'
import type { Store } from '../../src/index.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { SqliteStore } from '../../src/stores/sql/sqlite/index.js'
import { loadedValue, setOp } from '../../src/testing/index.js'
import { openTestCache } from '../helpers/open.js'
import { pgPool, uniqueName } from '../helpers/store-servers.js'

interface Player {
  score: number
}

/** A store and, once the cache is closed, a fresh store on the same table to read it back. */
interface Subject {
  store: () => Store
  cleanup: () => Promise<void>
}

function describeOn(name: string, subject: () => Promise<Subject>): void {
  describe(`update and getOrSet on ${name}`, () => {
    it('100 concurrent updates of a key cold in the table read it through once and land as its 100 increments', async () => {
      const { store, cleanup } = await subject()
      const seeded = store()
      await seeded.writeBatch([setOp('player:42', 1, { score: 5 })])
      await seeded.close?.()
      const { cache } = await openTestCache<Player>(store())
      const updates = Array.from({ length: 100 }, () => cache.update('player:42', (p) => ({ score: (p?.score ?? 0) + 10 })))
      await Promise.all(updates)
      assert.deepEqual(await cache.get('player:42'), { score: 1005 })
      assert.equal(cache.stats().reads.loads, 1)
      await cache.flush()
      await cache.close()
      const reader = store()
      const row = (await reader.load(['player:42'])).get('player:42')
      assert.deepEqual(row && loadedValue(row), { score: 1005 }, 'the table holds every increment')
      await reader.close?.()
      await cleanup()
    })

    it("updates interleaved with plain sets while fn is awaited lose neither, at durability 'store'", async () => {
      const { store, cleanup } = await subject()
      const { cache } = await openTestCache<Player>(store())
      await cache.set('player:7', { score: 0 })
      const updates: Array<Promise<Player | undefined>> = []
      for (let i = 0; i < 20; i++) {
        updates.push(
          cache.update(
            'player:7',
            async (p) => {
              await new Promise((resolve) => setImmediate(resolve))
              return { score: (p?.score ?? 0) + 1 }
            },
            { durability: 'store' },
          ),
        )
        if (i === 10) await cache.set('player:7', { score: 1000 })
      }
      await Promise.all(updates)
      const { cache: reader } = await openTestCache<Player>(store())
      const stored = (await reader.get('player:7'))?.score
      await reader.close()
      assert.equal(stored, 1020, 'the set landed while the first update awaited fn: every update built on it, and each was in the store when it resolved')
      await cache.close()
      await cleanup()
    })

    it('concurrent getOrSet misses share one loader call and write one row', async () => {
      const { store, cleanup } = await subject()
      const { cache } = await openTestCache<Player>(store())
      let calls = 0
      const loader = async (): Promise<Player> => {
        calls++
        await new Promise((resolve) => setImmediate(resolve))
        return { score: 77 }
      }
      const values = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? cache.getOrSet('player:9', loader) : cache.wrap('player:9', loader))))
      assert.ok(values.every((v) => v?.score === 77))
      assert.equal(calls, 1)
      await cache.flush()
      await cache.close()
      const { cache: reader } = await openTestCache<Player>(store())
      assert.deepEqual(await reader.getOrSet('player:9', () => ({ score: -1 })), { score: 77 }, 'a hit in the table: no loader')
      await reader.close()
      await cleanup()
    })
  })
}

const dir = mkdtempSync(join(tmpdir(), 'wb-update-'))
after(() => rmSync(dir, { recursive: true, force: true }))
let files = 0

describeOn('SQLite', async () => {
  const path = join(dir, `update-${files++}.db`)
  return { store: () => new SqliteStore({ path }), cleanup: async () => {} }
})

let pool: pg.Pool | undefined
after(async () => pool?.end())

describeOn('PostgreSQL', async () => {
  pool ??= await pgPool(4)
  const table = uniqueName('update')
  const shared = pool
  return {
    // A store never ends a pool it was given, so each cache can close its own.
    store: () => new PostgresStore({ pool: shared, table }),
    cleanup: async () => {
      await shared.query(`DROP TABLE IF EXISTS ${table}`)
    },
  }
})
