// Expiry against a real store: the cache writes a row into SQLite, another writer (its own
// better-sqlite3 connection, as another process would) changes it, and the cache serves the new
// value once ttlMs has passed since its write landed, and its own value until then.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { SqliteStore } from '../../src/stores/sql/sqlite/index.js'
import { openTestCache } from '../helpers/open.js'

const dir = mkdtempSync(join(tmpdir(), 'wb-expiry-sqlite-'))
after(() => rmSync(dir, { recursive: true, force: true }))

describe('ttlMs on SQLite', () => {
  it('serves the row another writer changed once the ttl has passed, and its own value before', async () => {
    const path = join(dir, 'expiry.db')
    const store = new SqliteStore({ path, table: 'expiry_entries' })
    const { cache, clock } = await openTestCache<{ score: number }>(store, { ttlMs: 60_000 })
    await cache.set('player:1', { score: 10 })
    await cache.set('player:2', { score: 20 })
    await cache.flush()

    const other = new Database(path)
    try {
      other.pragma('busy_timeout = 5000')
      const changed = other.prepare('UPDATE expiry_entries SET value = ?, version = version + 1 WHERE key = ?').run(JSON.stringify({ score: 99 }), 'player:1')
      assert.equal(changed.changes, 1, 'the other writer changed the row the cache flushed')
    } finally {
      other.close()
    }

    await clock.advance(59_999)
    assert.deepEqual(await cache.get('player:1'), { score: 10 }, 'within the ttl: the cached value')
    await clock.advance(1)
    assert.deepEqual(await cache.get('player:1'), { score: 99 }, "past the ttl: the other writer's row")
    assert.deepEqual(await cache.getMany(['player:1', 'player:2']), [{ score: 99 }, { score: 20 }])

    // The reloaded row is cached again (with the cache's ttl), and the cache's next write wins over it.
    await cache.set('player:1', { score: 11 })
    await cache.flush()
    await clock.advance(60_000)
    assert.deepEqual(await cache.get('player:1'), { score: 11 })
    await cache.close()
  })
})
