/**
 * `writebehind inspect` and `dlq list|drop|replay` on a Redis tier that lives on a Redis Cluster
 * (`--redis-cluster host:port[,host:port...] --name <name>`), against a cluster of the test's own
 * (3 primaries + 3 replicas, one start for the file): dirty keys of a cache whose store never
 * answers, per shard, spread over the primaries; poison rows dead-lettered into the shard streams,
 * listed, dropped by key and replayed into SQLite at their original versions; the read-only commands
 * change no key on any primary; bad flag combinations (64), an unknown name (66), an unreachable
 * cluster (69) and a primary that stops answering (SIGSTOP: 69 within `--timeout-ms`, not a hang).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { run as dlq } from '../../src/cli/commands/dlq.js'
import { run as inspect } from '../../src/cli/commands/inspect.js'
import { EXIT } from '../../src/cli/exit-codes.js'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { RedisTier } from '../../src/redis.js'
import { MemoryStore } from '../../src/stores/memory-store.js'
import { runCaptured } from '../helpers/capture.js'
import { clusterFixture } from '../helpers/cluster-fixture.js'
import { BlackHoleStore, PoisonStore } from '../helpers/faulty-stores.js'
import type { OwnCluster } from '../helpers/own-cluster.js'
import { freePort } from '../helpers/own-servers.js'

const fixture = clusterFixture()
let cluster: OwnCluster
/** The seed nodes as an operator gives them: two primaries' host:port. */
let seeds: string
const dir = mkdtempSync(join(tmpdir(), 'wb-cli-cluster-'))

before(async () => {
  ;({ cluster } = await fixture.start())
  seeds = cluster.startupNodes
    .slice(0, 2)
    .map((n) => `${n.host}:${n.port}`)
    .join(',')
})

after(() => rmSync(dir, { recursive: true, force: true }))

/** Every key of every primary with its type and DUMP (TTLs left out, they run down). */
async function keyspace(): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const node of await cluster.primaries()) {
    const admin = fixture.track(node.client())
    for (const key of (await admin.keys('*')).sort()) out.set(key, `${node.port}:${await admin.type(key)}:${(await admin.dumpBuffer(key))?.toString('hex') ?? 'gone'}`)
  }
  return out
}

function tier(name: string): RedisTier {
  return new RedisTier({ client: fixture.client(), name, shards: 24 })
}

describe('writebehind inspect --redis-cluster', () => {
  it('shows the dirty keys and lease holder of each shard across the primaries, and changes nothing', { timeout: 120_000 }, async () => {
    const store = new BlackHoleStore(new MemoryStore())
    const stuck = tier('stuck')
    const cache = await WriteBehindCache.open({ store, tier: stuck, closeTimeoutMs: 200, flush: { intervalMs: 60_000, maxDelayMs: 60_000 }, warn: () => {} })
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`)
    await Promise.all(keys.map((k, i) => cache.set(k, i)))
    void cache.flush().catch(() => {})
    while (store.swallowed === 0) await new Promise((resolve) => setTimeout(resolve, 10))
    const before = await keyspace()

    const json = await runCaptured(inspect, ['--redis-cluster', seeds, '--name', 'stuck', '--json'])
    assert.equal(json.code, 0, json.text)
    const view = JSON.parse(json.text) as {
      redis: string
      shardCount: number
      dirtyKeyCount: number
      oldestDirtyAgeMs: number | null
      shards: Array<{ dirtyKeys: number; lease: { instance: string } | null }>
    }
    assert.equal(view.redis, `cluster ${seeds}`)
    assert.equal(view.shardCount, 24)
    assert.equal(view.dirtyKeyCount, 30)
    assert.equal(typeof view.oldestDirtyAgeMs, 'number')
    const expected = new Array<number>(24).fill(0)
    for (const k of keys) expected[stuck.layout.shardOf(k)]! += 1
    assert.deepEqual(
      view.shards.map((s) => s.dirtyKeys),
      expected,
    )
    const owners = new Set(
      await Promise.all(
        expected.flatMap((n, shard) =>
          n > 0
            ? [
                cluster
                  .slotOf(stuck.layout.dirty(shard))
                  .then((slot) => cluster.ownerOf(slot))
                  .then((node) => node.port),
              ]
            : [],
        ),
      ),
    )
    assert.equal(owners.size, 3, 'the dirty shards read live on all three primaries')
    assert.ok(
      view.shards.some((s) => s.lease?.instance === stuck.token),
      'the flushing instance holds a lease',
    )

    const text = await runCaptured(inspect, ['--redis-cluster', seeds, '--name', 'stuck'])
    assert.equal(text.code, 0, text.text)
    assert.match(text.text, new RegExp(`^redis cluster ${seeds}  cache "stuck"`, 'm'))
    assert.match(text.text, /^dirty keys: 30$/m)
    const down = `127.0.0.1:${await freePort()}`
    const past = await runCaptured(inspect, ['--redis-cluster', `${down},${seeds}`, '--name', 'stuck', '--json'])
    assert.equal(past.code, 0, `a seed that does not answer is passed over: ${past.text}`)
    assert.equal((JSON.parse(past.text) as { dirtyKeyCount: number }).dirtyKeyCount, 30)
    assert.deepEqual(await keyspace(), before, 'inspect wrote nothing and took no lease')

    store.swallowing = false
    await cache.close()
  })
})

describe('writebehind dlq --redis-cluster', () => {
  it('lists the dead letters of every shard, drops by key only with --yes, and replays into SQLite at their versions', { timeout: 120_000 }, async () => {
    const poison = ['bad1', 'bad2', 'bad3', 'bad4', 'bad5']
    const store = new PoisonStore(new MemoryStore(), { isPoison: (op) => op.kind === 'set' && op.value === 'poison', mode: 'per-op' })
    const lettered = tier('letters')
    const cache = await WriteBehindCache.open({ store, tier: lettered, retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 }, warn: () => {} })
    await Promise.all([...poison.map((k) => cache.set(k, 'poison')), cache.set('good', 'fine')])
    const owners = new Set(await Promise.all(poison.map(async (k) => (await cluster.ownerOf(await cluster.slotOf(lettered.layout.dlq(lettered.layout.shardOf(k))))).port)))
    assert.ok(owners.size >= 2, `the letters' streams live on ${owners.size} primaries`)
    assert.equal((await cache.flush({ timeoutMs: 30_000 })).deadLettered.length, poison.length)
    await cache.close()
    const before = await keyspace()

    const listed = await runCaptured(dlq, ['list', '--redis-cluster', seeds, '--name', 'letters', '--json'])
    assert.equal(listed.code, 0, listed.text)
    const letters = JSON.parse(listed.text) as Array<{ key: string; version: number; encoded: string }>
    assert.deepEqual(letters.map((l) => l.key).sort(), poison)
    const dry = await runCaptured(dlq, ['drop', '--redis-cluster', seeds, '--name', 'letters', '--key', 'bad1'])
    assert.match(dry.text, /Would drop 1 dead letter/)
    assert.deepEqual(await keyspace(), before, 'list and drop without --yes wrote nothing')

    const dropped = await runCaptured(dlq, ['drop', '--redis-cluster', seeds, '--name', 'letters', '--key', 'bad1', '--yes'])
    assert.equal(dropped.code, 0, dropped.text)
    assert.match(dropped.text, /Dropped 1 dead letter\./)
    const path = join(dir, 'replay.db')
    const replayed = await runCaptured(dlq, ['replay', '--redis-cluster', seeds, '--name', 'letters', '--store', `sqlite:${path}`, '--create-table'])
    assert.equal(replayed.code, 0, replayed.text)
    assert.match(replayed.text, /Replayed 4 dead letters; 0 superseded by newer writes; 0 failed again/)
    const db = new Database(path, { readonly: true })
    try {
      const rows = db.prepare('SELECT key, value, version FROM writebehind_entries ORDER BY key').all() as Array<{ key: string; value: string; version: number }>
      assert.deepEqual(
        rows,
        letters
          .filter((l) => l.key !== 'bad1')
          .sort((a, b) => a.key.localeCompare(b.key))
          .map((l) => ({ key: l.key, value: '"poison"', version: l.version })),
      )
    } finally {
      db.close()
    }
    const view = JSON.parse((await runCaptured(inspect, ['--redis-cluster', seeds, '--name', 'letters', '--json'])).text) as { dirtyKeyCount: number; deadLetters: number }
    assert.deepEqual([view.dirtyKeyCount, view.deadLetters], [0, 0])
  })

  it('refuses bad flag combinations (64), an unknown cache name (66) and an unreachable cluster (69)', { timeout: 60_000 }, async () => {
    const url = `redis://${cluster.startupNodes[0]?.host}:${cluster.startupNodes[0]?.port}`
    const cases: Array<[typeof inspect, string[], number, RegExp]> = [
      [inspect, ['--redis', url, '--redis-cluster', seeds, '--name', 'x'], EXIT.USAGE, /give one/],
      [inspect, [dir, '--redis-cluster', seeds, '--name', 'x'], EXIT.USAGE, /not both/],
      [inspect, ['--redis-cluster', seeds], EXIT.USAGE, /--redis-cluster needs --name/],
      [inspect, ['--redis-cluster', 'localhost', '--name', 'x'], EXIT.USAGE, /host:port/],
      [dlq, ['list', '--redis-cluster', `${seeds},nope`, '--name', 'x'], EXIT.USAGE, /"nope" is neither/],
      [dlq, ['list', '--redis-cluster', seeds, '--name', 'x', '--yes'], EXIT.USAGE, /does not take --yes/],
      [inspect, ['--redis-cluster', seeds, '--name', 'nosuch'], EXIT.NO_INPUT, /no cache named "nosuch"/],
      [dlq, ['list', '--redis-cluster', url, '--name', 'nosuch'], EXIT.NO_INPUT, /no cache named "nosuch"/],
      [inspect, ['--redis-cluster', `127.0.0.1:${await freePort()}`, '--name', 'x'], EXIT.UNAVAILABLE, /cannot reach Redis/],
    ]
    for (const [command, args, code, message] of cases) {
      const result = await runCaptured(command, args)
      assert.equal(result.code, code, `${args.join(' ')}: ${result.text}`)
      assert.match(result.text, message, args.join(' '))
    }
  })

  it('exits 69 within --timeout-ms when a primary stops answering (SIGSTOP), seeded by the others', { timeout: 60_000 }, async () => {
    const cache = await WriteBehindCache.open({ store: new MemoryStore(), tier: tier('stalled'), warn: () => {} })
    await Promise.all(Array.from({ length: 30 }, (_, i) => cache.set(`k${i}`, i)))
    await cache.close()
    // Not the node of the name's config, so that the command can read it. Then either the client's ready
    // check (ioredis asks a node it picks) or the shards' pipelines wait on the paused node: each step is bounded.
    const config = await cluster.ownerOf(await cluster.slotOf('wb:stalled:cfg'))
    const primaries = await cluster.primaries()
    const victim = primaries.find((n) => n.port !== config.port)
    const others = primaries.filter((n) => n !== victim)
    assert.ok(victim !== undefined)
    const alive = others.map((n) => `127.0.0.1:${n.port}`).join(',')
    victim.pause() // resumed well within cluster-node-timeout (2 s): no failover
    let result: { code: number; text: string }
    try {
      result = await runCaptured(inspect, ['--redis-cluster', alive, '--name', 'stalled', '--timeout-ms', '500'])
    } finally {
      victim.resume()
    }
    assert.equal(result.code, EXIT.UNAVAILABLE, result.text)
    assert.match(result.text, new RegExp(`Redis at cluster ${alive} did not answer within 500 ms \\(--timeout-ms\\)`))
  })
})
