/**
 * Retry state that outlives its worker, with real processes, a redis-server of the test's own and
 * the shared PostgreSQL (a trigger fails the key `poison` with a retryable SQLSTATE):
 * - a worker fails the poison entry a few times and is killed with -9; the next worker continues
 *   the count from Redis and dead-letters it after the remaining attempts only, so a crash-looping
 *   fleet cannot retry a poison entry forever (the stream entry records the full count);
 * - a worker killed during a long backoff: the next worker, though it takes the shard's lease as
 *   soon as it expires, does not try the entry before the not-before time Redis holds.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { before, describe, it } from 'node:test'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { RedisLayout } from '../../src/tier/redis/layout.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { childLines } from '../helpers/child-lines.js'
import { redisFixture } from '../helpers/redis-fixture.js'
import type { OwnRedis } from '../helpers/own-redis.js'
import { PG_URL, uniqueName } from '../helpers/store-servers.js'
import type { RetryChildConfig } from './redis-retry-child.js'

const CHILD = new URL('./redis-retry-child.ts', import.meta.url).pathname

let server: OwnRedis
let pool: pg.Pool
let admin: Redis
const tables: string[] = []
const running: Child[] = []

const fixture = redisFixture()

before(async () => {
  ;({ server, pool } = await fixture.start())
  admin = fixture.track(server.client())
})

fixture.cleanup(async (pool) => {
  for (const child of running) if (child.alive()) process.kill(child.pid, 'SIGKILL')
  for (const t of tables) await pool.query(`DROP TABLE IF EXISTS ${t}; DROP FUNCTION IF EXISTS ${t}_fail_fn()`)
})

interface Child {
  readonly lines: string[]
  readonly pid: number
  readonly exited: Promise<void>
  alive(): boolean
  line(prefix: string): Promise<string>
}

function run(config: RetryChildConfig): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let alive = true
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  void exited.then(() => (alive = false))
  const handle: Child = {
    ...childLines(child.stdout),
    pid: child.pid as number,
    exited,
    alive: () => alive,
  }
  running.push(handle)
  return handle
}

async function kill(child: Child): Promise<void> {
  process.kill(child.pid, 'SIGKILL')
  await child.exited
}

/** A store table whose trigger fails every write of `poison` with 40001 (serialization failure: retryable). */
async function poisonedTable(): Promise<string> {
  const table = uniqueName('redisretry')
  tables.push(table)
  await new PostgresStore({ pool, table }).init()
  await pool.query(`CREATE FUNCTION ${table}_fail_fn() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'poison refused' USING ERRCODE = '40001'; END $$ LANGUAGE plpgsql`)
  await pool.query(`CREATE TRIGGER ${table}_fail_tr BEFORE INSERT OR UPDATE ON ${table} FOR EACH ROW WHEN (NEW.key = 'poison') EXECUTE FUNCTION ${table}_fail_fn()`)
  return table
}

/** Polls until `check` answers something other than undefined. */
async function until<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

function config(table: string, name: string, overrides: Partial<RetryChildConfig>): RetryChildConfig {
  return { redisUrl: server.url, pgUrl: PG_URL, table, name, writePoison: false, retry: { baseDelayMs: 40, maxDelayMs: 80, maxAttempts: 8 }, ...overrides }
}

describe('retry state in Redis, across worker deaths', () => {
  it('a worker fails the poison entry, is killed with -9; the next continues the count and dead-letters it after the remaining attempts', { timeout: 120_000 }, async () => {
    const table = await poisonedTable()
    const name = uniqueName('retry')
    const layout = new RedisLayout(name, 2)
    const entry = layout.entry(layout.shardOf('poison'), 'poison')
    const first = run(config(table, name, { writePoison: true }))
    await until(async () => (Number(await admin.hget(entry, 'att')) >= 3 ? true : undefined), 'three recorded attempts')
    await kill(first)
    const counted = Number(await admin.hget(entry, 'att'))
    assert.ok(counted >= 3 && counted < 8, `the first worker died with ${counted} attempts recorded, under the threshold`)

    const second = run(config(table, name, { healthyEveryMs: 15 }))
    await second.line('DEAD poison')
    const tries = second.lines.filter((l) => l.startsWith('TRY ')).length
    assert.equal(tries, 8 - counted, `the second worker made only the remaining ${8 - counted} attempts, not a fresh 8`)
    const [[, fields] = ['', []]] = (await admin.xrange(layout.dlq(layout.shardOf('poison')), '-', '+')) as Array<[string, string[]]>
    const letter = new Map<string, string>()
    for (let i = 0; i + 1 < fields.length; i += 2) letter.set(fields[i] as string, fields[i + 1] as string)
    assert.equal(letter.get('key'), 'poison')
    assert.equal(letter.get('attempts'), '8', 'the dead letter records every attempt, across both workers')
    assert.ok(Number(letter.get('first')) <= Number(letter.get('at')), 'and when the first of them failed')
    await kill(second)
  })

  it('a worker killed during a long backoff: the next does not try the entry before the not-before time in Redis', { timeout: 120_000 }, async () => {
    const table = await poisonedTable()
    const name = uniqueName('backoff')
    const layout = new RedisLayout(name, 2)
    const dirty = layout.dirty(layout.shardOf('poison'))
    const slow = { baseDelayMs: 4000, maxDelayMs: 4000, maxAttempts: 50 }
    const first = run(config(table, name, { writePoison: true, retry: slow }))
    // Full jitter draws each backoff in [0, 4 s): wait for one that ends at least 1.5 s from now.
    const notBefore = await until(async () => {
      const [score, [seconds, micros] = ['0', '0']] = await Promise.all([admin.zscore(dirty, 'poison'), admin.time()])
      const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
      return Number(score) - now >= 1500 ? Number(score) : undefined
    }, 'a long backoff')
    await kill(first)
    assert.equal(Number(await admin.zscore(dirty, 'poison')), notBefore, 'the not-before time stayed in Redis')

    const second = run(config(table, name, { healthyEveryMs: 15, retry: slow }))
    const tried = Number((await second.line('TRY ')).split(' ')[1])
    assert.ok(tried >= notBefore, `the second worker tried at ${tried}, not before ${notBefore}`)
    assert.ok(second.lines.some((l) => l === 'READY'))
    await kill(second)
  })
})
