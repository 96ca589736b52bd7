/**
 * Several processes on one Redis-tier cache, against a redis-server of the test's own and the shared
 * PostgreSQL: two writer processes write and flush the same keys (hostile ones included) at once,
 * and the store ends equal to Redis for every key, each key holding one of the writers' last
 * acknowledged writes of it, no row's version ever went down (a trigger records every update) and
 * nothing is left dirty. Then a flush worker is killed with -9 holding a batch committed but not
 * acknowledged in Redis and a batch claimed but not committed: nothing is lost, the next instance
 * flushes both (the first again, fenced).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { isDeepStrictEqual } from 'node:util'
import { before, describe, it } from 'node:test'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { RedisTier } from '../../src/redis.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { createAuditedTable, dropAuditedTable, storeRows } from '../helpers/audited-table.js'
import { childLines } from '../helpers/child-lines.js'
import { redisFixture } from '../helpers/redis-fixture.js'
import type { OwnRedis } from '../helpers/own-redis.js'
import { PG_URL, uniqueName } from '../helpers/store-servers.js'
import type { ChildConfig } from './redis-child.js'

const CHILD = new URL('./redis-child.ts', import.meta.url).pathname
const KEYS = ['a', 'b', 'c', 'k{0}', '{wb:x:1}', '__proto__', 'tab\tnew\nline', 'x'.repeat(300), 'é🔑']

let server: OwnRedis
let pool: pg.Pool
let admin: Redis
const tables: string[] = []

const fixture = redisFixture()

before(async () => {
  ;({ server, pool } = await fixture.start())
  admin = fixture.track(server.client())
})

fixture.cleanup(async (pool) => {
  for (const t of tables) await dropAuditedTable(pool, t)
})

interface Child {
  lines: string[]
  exited: Promise<number | null>
  pid: number
  /** Resolves with the first line starting with `prefix`. */
  line(prefix: string): Promise<string>
}

function run(config: ChildConfig): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] })
  return {
    ...childLines(child.stdout),
    pid: child.pid as number,
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  }
}

/** A table with a trigger recording every update's old and new version. */
async function auditedTable(): Promise<string> {
  const table = uniqueName('redismp')
  tables.push(table)
  await createAuditedTable(pool, table)
  return table
}

/** Every key's entry in Redis (value, version, state) and the number of dirty keys across shards. */
async function redisState(tier: RedisTier, keys: readonly string[]): Promise<{ entries: Map<string, { encoded: string | null; version: number }>; dirty: number }> {
  const entries = new Map<string, { encoded: string | null; version: number }>()
  for (const [i, entry] of (await tier.read(keys)).entries()) if (entry !== undefined) entries.set(keys[i] as string, entry)
  let dirty = 0
  for (let s = 0; s < tier.layout.shards; s++) dirty += await admin.zcard(tier.layout.dirty(s))
  return { entries, dirty }
}

async function inspector(name: string, table: string): Promise<{ cache: WriteBehindCache; tier: RedisTier; client: Redis }> {
  const client = server.client()
  const tier = new RedisTier({ client, name, shards: 4, leaseMs: 500 })
  const cache = await WriteBehindCache.open({ store: new PostgresStore({ pool, table }), tier, flush: { intervalMs: 50 } })
  return { cache, tier, client }
}

describe('several processes on one Redis-tier cache', () => {
  it('two writers writing and flushing the same keys: the store ends equal to Redis, on each key a last acknowledged write; versions never went down', { timeout: 120_000 }, async () => {
    const table = await auditedTable()
    const name = uniqueName('mp')
    const base = { mode: 'writer' as const, redisUrl: server.url, pgUrl: PG_URL, table, name, keys: KEYS, writes: 300 }
    const writers = [run({ ...base, writer: 1 }), run({ ...base, writer: 2 })]
    assert.deepEqual(await Promise.all(writers.map((w) => w.exited)), [0, 0])
    const { cache, tier, client } = await inspector(name, table)
    try {
      await cache.flush({ timeoutMs: 30_000 })
      const { entries, dirty } = await redisState(tier, KEYS)
      assert.equal(dirty, 0, 'nothing is left dirty')
      const rows = await storeRows(pool, table)
      for (const key of KEYS) {
        const entry = entries.get(key)
        const row = rows.get(key)
        assert.ok(entry !== undefined && row !== undefined, `${key} in Redis and in the store`)
        assert.equal(row.version, entry.version, `${JSON.stringify(key)}: the store holds Redis's version`)
        assert.deepEqual(row.deleted ? null : row.value, entry.encoded === null ? null : JSON.parse(entry.encoded))
        const lastAcked = writers.map((w) => {
          const acks = w.lines.map((l) => JSON.parse(l) as { key: string; value: unknown }).filter((a) => a.key === key)
          return acks.at(-1)?.value
        })
        const stored = row.deleted ? null : row.value
        assert.ok(
          lastAcked.some((v) => isDeepStrictEqual(v, stored)),
          `${JSON.stringify(key)} holds a writer's last acknowledged write: ${JSON.stringify({ lastAcked, stored })}`,
        )
      }
      const { rows: down } = await pool.query(`SELECT * FROM ${table}_audit WHERE new_version < old_version`)
      assert.deepEqual(down, [], 'no version ever went down')
      const { rows: updates } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}_audit`)
      assert.ok(Number(updates[0]?.n) > 0, 'the audit saw the updates')
    } finally {
      await cache.close()
      client.disconnect()
    }
  })

  it('a flush worker killed with -9 mid-batch (one batch committed, not acknowledged; one claimed, not committed) loses nothing', { timeout: 120_000 }, async () => {
    const table = await auditedTable()
    const name = uniqueName('kill')
    const writerClient = server.client()
    const writing = await WriteBehindCache.open({
      store: new PostgresStore({ pool, table }),
      tier: new RedisTier({ client: writerClient, name, shards: 4, leaseMs: 500 }),
      flush: { intervalMs: 600_000, maxDelayMs: 600_000 },
    })
    const expected = new Map<string, number>()
    for (let i = 0; i < 60; i++) {
      const key = `key${i % 20}`
      await writing.set(key, i)
      expected.set(key, i)
    }
    const worker = run({ mode: 'flusher', redisUrl: server.url, pgUrl: PG_URL, table, name, keys: [], writes: 0, writer: 0 })
    await Promise.all([worker.line('BATCH'), worker.line('HELD')])
    process.kill(worker.pid, 'SIGKILL')
    assert.equal(await worker.exited, null)
    const committed = (await storeRows(pool, table)).size
    assert.ok(committed > 0 && committed < 20, `the worker committed one batch (${committed} rows) and died before acknowledging it`)
    const { cache, tier, client } = await inspector(name, table)
    try {
      await cache.flush({ timeoutMs: 30_000 })
      const rows = await storeRows(pool, table)
      assert.deepEqual(new Map([...rows].map(([k, r]) => [k, r.value])), expected, 'every key holds its last write')
      assert.equal((await redisState(tier, [...expected.keys()])).dirty, 0)
      const { rows: down } = await pool.query(`SELECT * FROM ${table}_audit WHERE new_version < old_version`)
      assert.deepEqual(down, [])
      await writing.set('key0', 'after') // the writing instance goes on
      await writing.flush()
      assert.equal((await storeRows(pool, table)).get('key0')?.value, 'after')
    } finally {
      await cache.close()
      await writing.close()
      client.disconnect()
      writerClient.disconnect()
    }
  })
})
