/**
 * `writebehind inspect` and `dlq list|drop|replay` on a Redis tier (`--redis <url> --name <name>`),
 * against a redis-server of the test's own: dirty keys left by a cache whose store never answers,
 * poison rows dead-lettered into the shard streams, dropped, and replayed into SQLite at their
 * original versions (a newer write wins); the read-only commands leave every Redis key as it was;
 * exit codes and bad flag combinations; a server that stops answering (SIGSTOP, CLIENT PAUSE) ends
 * each command with exit 69 within `--timeout-ms` instead of a hang.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import type { Redis } from 'ioredis'
import { run as dlq } from '../../src/cli/commands/dlq.js'
import { run as inspect } from '../../src/cli/commands/inspect.js'
import { EXIT } from '../../src/cli/exit-codes.js'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { RedisTier } from '../../src/redis.js'
import { MemoryStore } from '../../src/stores/memory-store.js'
import { runCaptured } from '../helpers/capture.js'
import { BlackHoleStore, PoisonStore } from '../helpers/faulty-stores.js'
import { startOwnRedis, type OwnRedis } from '../helpers/own-redis.js'
import { freePort } from '../helpers/own-servers.js'

let server: OwnRedis
const clients: Redis[] = []
const dir = mkdtempSync(join(tmpdir(), 'wb-cli-redis-'))

before(async () => {
  server = await startOwnRedis()
})

after(async () => {
  for (const c of clients) c.disconnect()
  await server.destroy()
  rmSync(dir, { recursive: true, force: true })
})

function client(): Redis {
  const c = server.client()
  clients.push(c)
  return c
}

/** Every key of the server with its type and DUMP (values byte for byte; TTLs left out, they run down). */
async function keyspace(): Promise<Map<string, string>> {
  const admin = client()
  const keys = (await admin.keys('*')).sort()
  const out = new Map<string, string>()
  for (const key of keys) out.set(key, `${await admin.type(key)}:${(await admin.dumpBuffer(key))?.toString('hex') ?? 'gone'}`)
  return out
}

async function poisonLetters(
  name: string,
  keys: readonly string[],
  good: string[] = [],
  fixed = new Set<string>(),
  on: Redis = client(),
): Promise<{ tier: RedisTier; cache: WriteBehindCache; inner: MemoryStore }> {
  const inner = new MemoryStore()
  const store = new PoisonStore(inner, { isPoison: (op) => op.kind === 'set' && op.value === 'poison' && !fixed.has(op.key), mode: 'per-op' })
  const tier = new RedisTier({ client: on, name, shards: 4 })
  const cache = await WriteBehindCache.open({ store, tier, retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 } })
  await Promise.all([...keys.map((k) => cache.set(k, 'poison')), ...good.map((k) => cache.set(k, 'fine'))])
  const report = await cache.flush({ timeoutMs: 20_000 })
  assert.equal(report.deadLettered.length, keys.length)
  return { tier, cache, inner }
}

function sqliteRows(path: string): Map<string, { value: string | null; version: number }> {
  const db = new Database(path, { readonly: true })
  try {
    const all = db.prepare('SELECT key, value, version FROM writebehind_entries').all() as Array<{ key: string; value: string | null; version: number }>
    return new Map(all.map((r) => [r.key, { value: r.value, version: r.version }]))
  } finally {
    db.close()
  }
}

describe('writebehind inspect --redis', () => {
  it('shows the dirty keys, oldest dirty age and lease holder of a tier whose store never answers, and changes nothing', { timeout: 60_000 }, async () => {
    const store = new BlackHoleStore(new MemoryStore())
    const tier = new RedisTier({ client: client(), name: 'stuck', shards: 4 })
    const cache = await WriteBehindCache.open({ store, tier, closeTimeoutMs: 200, flush: { intervalMs: 60_000, maxDelayMs: 60_000 } })
    await Promise.all(Array.from({ length: 6 }, (_, i) => cache.set(`k${i}`, i)))
    void cache.flush().catch(() => {})
    while (store.swallowed === 0) await new Promise((resolve) => setTimeout(resolve, 10))
    const before = await keyspace()

    const json = await runCaptured(inspect, ['--redis', server.url, '--name', 'stuck', '--json'])
    assert.equal(json.code, 0, json.text)
    const view = JSON.parse(json.text) as {
      shardCount: number
      format: number
      dirtyKeyCount: number
      oldestDirtyAgeMs: number | null
      deadLetters: number
      shards: Array<{ dirtyKeys: number; lease: { instance: string; ttlMs: number } | null }>
    }
    assert.equal(view.shardCount, 4)
    assert.equal(view.format, 1)
    assert.equal(view.dirtyKeyCount, 6)
    assert.equal(view.deadLetters, 0)
    assert.equal(typeof view.oldestDirtyAgeMs, 'number')
    const expected = [0, 0, 0, 0]
    for (let i = 0; i < 6; i++) expected[tier.layout.shardOf(`k${i}`)]! += 1
    assert.deepEqual(
      view.shards.map((s) => s.dirtyKeys),
      expected,
    )
    const held = view.shards.filter((s) => s.lease !== null)
    assert.ok(held.length > 0, 'the flushing instance holds a lease')
    for (const s of held) {
      assert.equal(s.lease?.instance, tier.token)
      assert.ok((s.lease?.ttlMs ?? 0) > 0)
    }

    const text = await runCaptured(inspect, ['--redis', server.url, '--name', 'stuck'])
    assert.equal(text.code, 0, text.text)
    assert.match(text.text, /^shards: 4$/m)
    assert.match(text.text, /^dirty keys: 6$/m)
    assert.match(text.text, /^oldest dirty age: \d+ ms$/m)
    assert.match(text.text, new RegExp(`lease: ${tier.token} \\(ttl \\d+ ms\\)`))
    assert.deepEqual(await keyspace(), before, 'inspect wrote nothing and took no lease')

    store.swallowing = false
    await cache.close()
  })
})

describe('writebehind dlq --redis', () => {
  it('lists the poison rows dead-lettered into the shard streams, drops by key only with --yes, and changes nothing while reading', { timeout: 60_000 }, async () => {
    const { cache } = await poisonLetters('letters', ['bad1', 'bad2', 'bad3'], ['good'])
    await cache.close()
    const before = await keyspace()
    const listed = await runCaptured(dlq, ['list', '--redis', server.url, '--name', 'letters', '--json'])
    assert.equal(listed.code, 0, listed.text)
    const letters = JSON.parse(listed.text) as Array<{ key: string; encoded: string; kind: string; error: { message: string } }>
    assert.deepEqual(letters.map((l) => l.key).sort(), ['bad1', 'bad2', 'bad3'])
    for (const l of letters) {
      assert.equal(l.encoded, '"poison"')
      assert.equal(l.kind, 'set')
      assert.match(l.error.message, /poison/i)
    }
    const text = await runCaptured(dlq, ['list', '--redis', server.url, '--name', 'letters', '--prefix', 'bad2'])
    assert.match(text.text, /^bad2\tv\d+\tset\t/m)
    assert.match(text.text, /^1 dead letter \(of 3\)$/m)
    const dry = await runCaptured(dlq, ['drop', '--redis', server.url, '--name', 'letters', '--key', 'bad1'])
    assert.equal(dry.code, 0, dry.text)
    assert.match(dry.text, /Would drop 1 dead letter/)
    const inspected = await runCaptured(inspect, ['--redis', server.url, '--name', 'letters', '--json'])
    assert.equal((JSON.parse(inspected.text) as { deadLetters: number }).deadLetters, 3)
    assert.deepEqual(await keyspace(), before, 'list, drop without --yes and inspect wrote nothing, took no lease')

    const dropped = await runCaptured(dlq, ['drop', '--redis', server.url, '--name', 'letters', '--key', 'bad1', '--yes'])
    assert.equal(dropped.code, 0, dropped.text)
    assert.match(dropped.text, /Dropped 1 dead letter\./)
    const left = JSON.parse((await runCaptured(dlq, ['list', '--redis', server.url, '--name', 'letters', '--json'])).text) as Array<{ key: string }>
    assert.deepEqual(left.map((l) => l.key).sort(), ['bad2', 'bad3'])
    const layout = new RedisTier({ client: client(), name: 'letters', shards: 4 }).layout
    assert.equal(await client().exists(layout.entry(layout.shardOf('bad1'), 'bad1')), 0, 'the given-up entry is gone: the next read loads the store')
    const all = await runCaptured(dlq, ['drop', '--redis', server.url, '--name', 'letters', '--all', '--yes'])
    assert.match(all.text, /Dropped 2 dead letters\./)
    assert.equal((JSON.parse((await runCaptured(dlq, ['list', '--redis', server.url, '--name', 'letters', '--json'])).text) as unknown[]).length, 0)
  })

  it('replays the letters into SQLite at their original versions; a key written since keeps its newer write', { timeout: 60_000 }, async () => {
    const { cache } = await poisonLetters('replay', ['p1', 'p2', 'p3'], ['ok'])
    const letters = JSON.parse((await runCaptured(dlq, ['list', '--redis', server.url, '--name', 'replay', '--json'])).text) as Array<{ key: string; version: number }>
    await cache.set('p3', 'fresh')
    await cache.flush()
    await cache.close()
    const path = join(dir, 'replay.db')
    const replayed = await runCaptured(dlq, ['replay', '--redis', server.url, '--name', 'replay', '--store', `sqlite:${path}`, '--create-table'])
    assert.equal(replayed.code, 0, replayed.text)
    assert.match(replayed.text, /Replayed 2 dead letters; 1 superseded by newer writes; 0 failed again/)
    const rows = sqliteRows(path)
    for (const key of ['p1', 'p2']) {
      assert.deepEqual(rows.get(key), { value: '"poison"', version: letters.find((l) => l.key === key)?.version })
    }
    assert.equal(rows.has('p3'), false, 'the superseded letter was not written')
    assert.equal((JSON.parse((await runCaptured(dlq, ['list', '--redis', server.url, '--name', 'replay', '--json'])).text) as unknown[]).length, 0)
    const view = JSON.parse((await runCaptured(inspect, ['--redis', server.url, '--name', 'replay', '--json'])).text) as { dirtyKeyCount: number; deadLetters: number }
    assert.deepEqual([view.dirtyKeyCount, view.deadLetters], [0, 0])
  })

  it('refuses bad flag combinations (64), an unknown cache name (66) and an unreachable server (69)', async () => {
    const url = server.url
    const cases: Array<[typeof inspect, string[], number, RegExp]> = [
      [inspect, [dir, '--redis', url, '--name', 'x'], EXIT.USAGE, /not both/],
      [inspect, ['--redis', url], EXIT.USAGE, /--redis needs --name/],
      [inspect, [dir, '--name', 'x'], EXIT.USAGE, /--name goes with --redis/],
      [inspect, ['--redis', 'localhost:6379', '--name', 'x'], EXIT.USAGE, /redis:\/\//],
      [dlq, ['list', dir, '--redis', url, '--name', 'x'], EXIT.USAGE, /not both/],
      [dlq, ['list', '--redis', url], EXIT.USAGE, /--redis needs --name/],
      [dlq, ['list', '--redis', url, '--name', 'x', '--yes'], EXIT.USAGE, /does not take --yes/],
      [dlq, ['drop', '--redis', url, '--name', 'x'], EXIT.USAGE, /say what to drop/],
      [dlq, ['replay', '--redis', url, '--name', 'x'], EXIT.USAGE, /--store|--config/],
      [inspect, ['--redis', url, '--name', 'nosuch'], EXIT.NO_INPUT, /no cache named "nosuch"/],
      [dlq, ['list', '--redis', url, '--name', 'nosuch'], EXIT.NO_INPUT, /no cache named "nosuch"/],
      [inspect, ['--redis', `redis://127.0.0.1:${await freePort()}`, '--name', 'x'], EXIT.UNAVAILABLE, /cannot reach Redis/],
      [inspect, [dir, '--timeout-ms', '1000'], EXIT.USAGE, /--timeout-ms goes with --redis/],
      [dlq, ['list', dir, '--timeout-ms', '1000'], EXIT.USAGE, /--timeout-ms goes with --redis/],
      [inspect, ['--redis', url, '--name', 'x', '--timeout-ms', '5'], EXIT.USAGE, /--timeout-ms/],
    ]
    for (const [command, args, code, message] of cases) {
      const result = await runCaptured(command, args)
      assert.equal(result.code, code, `${args.join(' ')}: ${result.text}`)
      assert.match(result.text, message, args.join(' '))
    }
  })
})

const BIN = fileURLToPath(new URL('../../bin/writebehind.js', import.meta.url))
/** What "exits within about the timeout" may take on a loaded machine (tsx startup included); a hang is killed past it. */
const EXITS_WITHIN_MS = 30_000

/** Runs the `writebehind` command as a user would; a run still going after EXITS_WITHIN_MS is killed (status null). */
function command(args: string[]): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), EXITS_WITHIN_MS)
    child.once('exit', (status) => {
      clearTimeout(timer)
      resolve({ status, output })
    })
  })
}

describe('writebehind inspect and dlq on a Redis that stops answering', () => {
  it('exit 69 within --timeout-ms (default 5000) against a paused server, naming it, with the store left untouched', { timeout: 180_000 }, async () => {
    const paused = await startOwnRedis()
    const own = paused.client()
    try {
      const { cache } = await poisonLetters('stalled', ['bad1'], ['ok'], new Set(), own)
      await cache.close()
      const path = join(dir, 'stalled.db')
      const where = ['--redis', paused.url, '--name', 'stalled']
      paused.pause()
      const cases: Array<[string[], number]> = [
        [['inspect', ...where], 5000],
        [['inspect', ...where, '--timeout-ms', '1000'], 1000],
        [['dlq', 'list', ...where, '--timeout-ms', '1000'], 1000],
        [['dlq', 'drop', ...where, '--all', '--yes', '--timeout-ms', '1000'], 1000],
        [['dlq', 'replay', ...where, '--store', `sqlite:${path}`, '--create-table', '--timeout-ms', '1000'], 1000],
      ]
      for (const [args, ms] of cases) {
        const result = await command(args)
        assert.equal(result.status, EXIT.UNAVAILABLE, `${args.join(' ')}: ${result.output}`)
        assert.ok(result.output.includes(`Redis at ${paused.url} did not answer within ${ms} ms (--timeout-ms)`), `${args.join(' ')}: ${result.output}`)
      }
      assert.equal(existsSync(path), false, 'replay stopped before it opened the store')
      paused.resume()
      const listed = await command(['dlq', 'list', ...where, '--json'])
      assert.equal(listed.status, 0, listed.output)
      assert.deepEqual(
        (JSON.parse(listed.output) as Array<{ key: string }>).map((l) => l.key),
        ['bad1'],
        'nothing was dropped',
      )
    } finally {
      own.disconnect()
      await paused.destroy()
    }
  })

  it('drop --yes on a server that pauses writes (CLIENT PAUSE WRITE) exits 69, saying letters may have been dropped', { timeout: 60_000 }, async () => {
    const { cache } = await poisonLetters('held', ['bad1', 'bad2'], ['ok'])
    await cache.close()
    await client().call('CLIENT', 'PAUSE', '3000', 'WRITE')
    const held = await runCaptured(dlq, ['drop', '--redis', server.url, '--name', 'held', '--all', '--yes', '--timeout-ms', '500'])
    assert.equal(held.code, EXIT.UNAVAILABLE, held.text)
    assert.match(held.text, /did not answer within 500 ms \(--timeout-ms\).*Some of the letters may have been dropped/)
    await client().call('CLIENT', 'UNPAUSE')
    const dropped = await runCaptured(dlq, ['drop', '--redis', server.url, '--name', 'held', '--all', '--yes'])
    assert.equal(dropped.code, 0, dropped.text)
  })
})

describe('replayDeadLetters and dropDeadLetters on a Redis tier', () => {
  it('counts letters the store refuses again as failed (back in the stream), and drops by prefix', { timeout: 60_000 }, async () => {
    const fixed = new Set<string>()
    const { cache, inner } = await poisonLetters('again', ['a1', 'a2', 'b1'], ['ok'], fixed)
    fixed.add('a2') // the store now takes a2's row, not a1's
    const report = await cache.replayDeadLetters({ prefix: 'a' })
    assert.deepEqual(report, { replayed: 1, superseded: 0, failed: 1, busy: 0 })
    assert.equal(inner.snapshot().get('a2'), 'poison')
    const listed = JSON.parse((await runCaptured(dlq, ['list', '--redis', server.url, '--name', 'again', '--json'])).text) as Array<{ key: string }>
    assert.deepEqual(listed.map((l) => l.key).sort(), ['a1', 'b1'])
    assert.equal(await cache.dropDeadLetters({ prefix: 'b' }), 1)
    assert.equal(await cache.get('a1'), 'poison', 'a letter that failed again is still served')
    assert.equal(inner.snapshot().has('a1'), false)
    await cache.close()
  })
})
