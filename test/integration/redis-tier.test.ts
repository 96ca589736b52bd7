/**
 * The Redis tier's scripts and claims on a real redis-server of the test's own (a free loopback
 * port): versions made in Redis and never below the shard's floor (past 2^50, where Lua's default
 * number printing would round them), the dirty cap, claims that change nothing, acks by
 * compare-and-swap, fills that never overwrite a dirty or newer entry, leases, hostile keys kept
 * verbatim, and the startup checks (eviction policy refused, no AOF warned, shard count fixed).
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { Redis } from 'ioredis'
import { strictJson } from '../../src/core/json-codec.js'
import { RedisConfigError, RedisUnavailableError, VersionExhaustedError } from '../../src/errors.js'
import { systemClock } from '../../src/contracts/clock.js'
import { opFromRecord, type PendingOp } from '../../src/flush/pending-op.js'
import { RedisTier, type TierContext } from '../../src/tier/redis/redis-tier.js'
import { DROP_LETTERS, REQUEUE_LETTERS } from '../../src/tier/redis/letter-scripts.js'
import { RETRY } from '../../src/tier/redis/retry-scripts.js'
import { ACK, ALL_SCRIPTS, CLAIM, RENEW, TRUST } from '../../src/tier/redis/scripts.js'
import { describeEachServer, type ServerInUse } from '../helpers/each-server.js'
import { CLIENT_KINDS } from '../helpers/tier-clients.js'

let own: ServerInUse
let admin: Redis
let names = 0

function context(overrides: Partial<TierContext> = {}): TierContext {
  return { codec: strictJson, clock: systemClock, warn: () => {}, ttlMs: 0, maxEntries: 1_000_000, settledElsewhere: () => {}, heldAt: () => {}, ...overrides }
}

async function openTier(name = `t${++names}`, options: { shards?: number; context?: Partial<TierContext> } = {}): Promise<RedisTier> {
  const client = await own.tierClient()
  const tier = new RedisTier({ client, name, shards: options.shards ?? 4 })
  await tier.open(context(options.context))
  return tier
}

async function written(tier: RedisTier, key: string, encoded: string | null): Promise<number> {
  const answer = await tier.write(key, encoded, { force: false, replicated: false })
  assert.equal(answer.full, false)
  return (answer as { version: number }).version
}

async function takeAll(tier: RedisTier, busy: ReadonlySet<string> = new Set()): Promise<PendingOp[]> {
  await tier.refresh()
  return await tier.take(1000, busy, undefined)
}

/** The suite, run on each server binary (`SERVER_BINARIES`, at the end). */
function suite(): void {
  it('makes versions in Redis from TIME, rising per key and never below the shard floor, exact past 2^50', async () => {
    const tier = await openTier()
    const before = Date.now() * 1000
    const v1 = await written(tier, 'a', '1')
    const v2 = await written(tier, 'a', '2')
    assert.ok(v1 >= before - 5_000_000, `a version from Redis TIME in µs (${v1})`)
    assert.ok(v2 > v1)
    const shard = tier.layout.shardOf('b')
    const floor = 2 ** 52 + 7
    await admin.hset(tier.layout.meta(shard), 'floor', String(floor))
    const v3 = await written(tier, 'b', '3')
    assert.equal(v3, floor + 1, 'the floor + 1, exactly (no 4.5e+15 rounding)')
    assert.equal(await admin.hget(tier.layout.entry(shard, 'b'), 'ver'), String(floor + 1))
    assert.equal(await admin.hget(tier.layout.meta(shard), 'floor'), String(floor + 1))
  })

  it('claims without changing anything, acks by compare-and-swap, and a rewrite in flight stays dirty', async () => {
    const tier = await openTier()
    const v1 = await written(tier, 'k', '"one"')
    await written(tier, 'gone', null)
    const ops = await takeAll(tier)
    assert.deepEqual(ops.map((op) => [op.key, op.kind, op.version]).sort(), [
      ['gone', 'delete', ops.find((o) => o.key === 'gone')?.version],
      ['k', 'set', v1],
    ])
    assert.equal((await takeAll(tier)).length, 2, 'a claim changed nothing: a second claim sees the same entries')
    const v2 = await written(tier, 'k', '"two"')
    for (const op of ops) tier.applied(op)
    await tier.settled()
    await tier.refresh()
    const left = await tier.take(1000, new Set(), undefined)
    assert.deepEqual(
      left.map((op) => [op.key, op.version]),
      [['k', v2]],
      'the tombstone is clean; k was written again in flight and stays dirty at its new version',
    )
    assert.ok((tier.lowestWaiting() as number) > v1, 'the first unflushed version moved past the acknowledged one')
    assert.ok((tier.lowestWaiting() as number) <= v2)
    tier.applied(left[0] as PendingOp)
    await tier.settled()
    await tier.refresh()
    assert.equal(tier.waiting, 0)
    const [entry] = await tier.read(['k'])
    assert.equal(entry?.state, 'c')
    assert.equal(entry?.encoded, '"two"')
  })

  it('claims and acks in script calls of at most 64 keys, so writes run between them, and still takes every due key once', async () => {
    const tier = await openTier(undefined, { shards: 1 })
    const keys = Array.from({ length: 300 }, (_, i) => `k${i}`)
    for (const key of keys) await written(tier, key, '1')
    const busy = new Set(keys.slice(0, 40)) // in flight in this process: skipped, and the claims go on past them
    await admin.call('CONFIG', 'SET', 'slowlog-log-slower-than', '0')
    await admin.call('CONFIG', 'SET', 'slowlog-max-len', '100000')
    await admin.call('SLOWLOG', 'RESET')
    try {
      await tier.refresh()
      const ops = await tier.take(1000, busy, undefined)
      assert.deepEqual(ops.map((op) => op.key).sort(), keys.slice(40).sort(), 'every due key not in flight, each once')
      for (const op of ops) tier.applied(op)
      await tier.settled()
      const log = (await admin.call('SLOWLOG', 'GET', '-1')) as Array<[number, number, number, string[]]>
      const calls = (script: { sha: string }): string[][] => log.map((entry) => entry[3]).filter((args) => args[0]?.toUpperCase() === 'EVALSHA' && args[1] === script.sha)
      const claims = calls(CLAIM)
      assert.ok(claims.length >= 5, `${claims.length} claim calls for 300 keys`)
      for (const args of claims) {
        // EVALSHA sha 3 dirty lease retry prefix token leaseMs max useLease scan offset
        assert.ok(Number(args[9]) <= 64 && Number(args[11]) <= 128, `a claim asked for ${args[9]} entries, looking at ${args[11]}`)
      }
      const acks = calls(ACK)
      assert.ok(acks.length >= 5, `${acks.length} ack calls for 260 keys`)
      // EVALSHA sha 4 dirty vers meta retry ttl prefix, then key and version per entry
      for (const args of acks) assert.ok((args.length - 9) / 2 <= 64, `an ack of ${(args.length - 9) / 2} keys`)
      await tier.refresh()
      assert.equal(tier.waiting, 40, 'only the keys in flight stay dirty')
    } finally {
      await admin.call('CONFIG', 'SET', 'slowlog-log-slower-than', '10000')
    }
  })

  it('drops a clean entry older than an acknowledged version (a batch that reached the store across a failover)', async () => {
    const tier = await openTier()
    await written(tier, 'k', '"one"')
    const [op] = await takeAll(tier)
    tier.applied(op as PendingOp)
    await tier.settled()
    assert.equal((await tier.read(['k']))[0]?.state, 'c')
    // The same key acknowledged at a newer version than Redis holds: the store has that one.
    tier.applied(opFromRecord('k', (op as PendingOp).version + 10, '"one"', 0, strictJson))
    await tier.settled()
    assert.equal((await tier.read(['k']))[0], undefined, 'the older clean copy is gone: the next read loads the store')
  })

  it('after a trust epoch rises, a clean entry reads as a miss, is filled again at its own version, and compares as no entry', async () => {
    const tier = await openTier()
    const v = await written(tier, 'k', '"one"')
    await written(tier, 'd', '"dirty"')
    const ops = await takeAll(tier)
    tier.applied(ops.find((op) => op.key === 'k') as PendingOp)
    await tier.settled()
    const { layout } = tier
    const admin = own.client()
    // What an instance does when it finds a new replication id on the shard's node (trust.ts).
    const raised = (await admin.call('EVAL', TRUST.source, 1, layout.meta(layout.shardOf('k')), 'a-promoted-replica')) as number[]
    await admin.call('EVAL', TRUST.source, 1, layout.meta(layout.shardOf('d')), 'a-promoted-replica')
    assert.ok((raised[0] ?? 0) >= 2 && raised[1] === 1, `the epoch rose: ${String(raised)}`)
    const [k, d] = await tier.read(['k', 'd'])
    assert.equal(k, undefined, 'the clean entry of the older epoch reads as a miss')
    assert.equal(d?.state, 'd', 'a dirty entry is still served')
    assert.equal(await tier.write('k', '"cas"', { force: false, replicated: false, expect: String(v) }).then((a) => a.conflict), true, 'its old version is not what a read-modify-write saw')
    assert.equal(await tier.fill('k', '"store"', v), true, 'filled again at the same version: the store is the truth')
    assert.equal((await tier.read(['k']))[0]?.encoded, '"store"')
    assert.equal(await tier.fill('k', '"again"', v), false, 'trusted now: not filled twice')
  })

  it('compares a clean entry of an older epoch as no entry (expect 0)', async () => {
    const tier = await openTier()
    await written(tier, 'k', '"one"')
    tier.applied((await takeAll(tier))[0] as PendingOp)
    await tier.settled()
    const admin = own.client()
    await admin.call('EVAL', TRUST.source, 1, tier.layout.meta(tier.layout.shardOf('k')), 'a-promoted-replica')
    const answer = await tier.write('k', '"new"', { force: false, replicated: false, expect: '0' })
    assert.equal(answer.conflict, undefined, 'a read that missed (no store row) may write over it')
  })

  it('answers full past the shard cap, except for a key already dirty or a forced write', async () => {
    const tier = await openTier(undefined, { shards: 1, context: { maxEntries: 2 } })
    await written(tier, 'a', '1')
    await written(tier, 'b', '1')
    assert.deepEqual(await tier.write('c', '1', { force: false, replicated: false }), { full: true })
    assert.equal((await tier.write('a', '2', { force: false, replicated: false })).full, false, 'rewriting a dirty key always passes')
    assert.equal((await tier.write('c', '1', { force: true, replicated: false })).full, false)
  })

  it('fills a miss from the store, never over a dirty entry or a newer one; a clean entry expires, a dirty one never', async () => {
    const tier = await openTier(undefined, { context: { ttlMs: 60_000 } })
    const entryKey = tier.layout.entry(tier.layout.shardOf('x'), 'x')
    assert.equal(await tier.fill('x', '"store"', 5), true)
    assert.equal((await tier.read(['x']))[0]?.encoded, '"store"')
    assert.ok((await admin.pttl(entryKey)) > 0, 'a clean entry carries the ttl')
    assert.equal(await tier.fill('x', '"older"', 4), false, 'not over a newer clean entry')
    const v = await written(tier, 'x', '"mine"')
    assert.equal(await admin.pttl(entryKey), -1, 'a dirty entry has no ttl')
    assert.equal(await tier.fill('x', '"newer in store"', v + 1), false, 'not over a dirty entry')
    assert.equal((await tier.read(['x']))[0]?.encoded, '"mine"')
    const [op] = await takeAll(tier)
    tier.applied(op as PendingOp)
    await tier.settled()
    assert.ok((await admin.pttl(entryKey)) > 0, 'clean again: the ttl is back')
  })

  it('leases a shard to one instance at a time, released by its holder only; write-through keys are read past the lease', async () => {
    const name = `lease${++names}`
    const a = await openTier(name, { shards: 1 })
    const b = await openTier(name, { shards: 1 })
    await written(a, 'k1', '1')
    assert.equal((await takeAll(a)).length, 1)
    assert.equal((await takeAll(b)).length, 0, 'b does not hold the lease')
    assert.equal((await b.take(10, new Set(), new Map([['k1', 1]]))).length, 1, 'a write-through key is taken past the lease')
    await b.releaseLeases()
    assert.equal((await takeAll(b)).length, 0, "b's release does not drop a's lease")
    await a.releaseLeases()
    assert.equal((await takeAll(b)).length, 1, 'b takes the shard once a released it')
  })

  it('keeps hostile keys verbatim (braces, __proto__, NUL, long, non-ASCII)', async () => {
    const tier = await openTier()
    const keys = ['{wb:x:0}:e:a', '}{', '__proto__', 'constructor', 'a\u0000b', 'k'.repeat(1000), 'ключ🔑', ' ', 'a:e:b']
    for (const [i, key] of keys.entries()) await written(tier, key, JSON.stringify(i))
    const read = await tier.read(keys)
    assert.deepEqual(
      read.map((e) => e?.encoded),
      keys.map((_, i) => JSON.stringify(i)),
    )
    const ops = await takeAll(tier)
    assert.deepEqual(ops.map((op) => op.key).sort(), [...keys].sort())
  })

  it('claims hostile payloads and tombstones verbatim, at every string length the packed reply has', async () => {
    const tier = await openTier()
    const payloads: Record<string, string | null> = {
      short: '"a\u0000b"',
      nul: 'a\u0000b{}',
      unicode: JSON.stringify('ключ🔑'.repeat(20)),
      empty: '',
      str16: JSON.stringify('x'.repeat(300)),
      str32: JSON.stringify('y'.repeat(70_000)),
      tomb: null,
    }
    const versions = new Map<string, number>()
    for (const [key, encoded] of Object.entries(payloads)) versions.set(key, await written(tier, key, encoded))
    const ops = await takeAll(tier)
    assert.deepEqual(Object.fromEntries(ops.map((op) => [op.key, op.kind === 'set' ? op.encoded : null])), payloads)
    for (const op of ops) {
      assert.equal(op.version, versions.get(op.key), op.key)
      assert.ok(op.since > 0 && op.attempts === 0 && op.firstFailedAt === 0, op.key)
    }
  })

  it("an acknowledgement brings back its shard's dirty count, lowest version and oldest due time: no refresh needed to see them", async () => {
    const tier = await openTier(undefined, { shards: 1 })
    for (const key of ['a', 'b', 'c']) await written(tier, key, '1')
    const ops = await takeAll(tier)
    const kept = ops.find((op) => op.key === 'c') as PendingOp
    for (const op of ops) if (op !== kept) tier.applied(op)
    await tier.settled()
    assert.equal(tier.waiting, 1, 'the ack said one key is left')
    assert.equal(tier.lowestWaiting(), kept.version)
    assert.ok((tier.oldestWaiting() as number) > 0)
    tier.applied(kept)
    await tier.settled()
    assert.equal(tier.waiting, 0)
    assert.equal(tier.lowestWaiting(), undefined)
    assert.equal(tier.oldestWaiting(), undefined, 'nothing due is left')
  })

  it('takes from many shards at once without passing max, each due key once', async () => {
    const tier = await openTier(undefined, { shards: 16 })
    const keys = Array.from({ length: 300 }, (_, i) => `m${i}`)
    for (const key of keys) await written(tier, key, '1')
    await tier.refresh()
    const taken: string[] = []
    for (;;) {
      const ops = await tier.take(70, new Set(), undefined)
      if (ops.length === 0) break
      assert.ok(ops.length <= 70, `${ops.length} ops for a take of 70`)
      for (const op of ops) tier.applied(op)
      await tier.settled()
      taken.push(...ops.map((op) => op.key))
      tier.tick()
    }
    assert.deepEqual([...taken].sort(), [...keys].sort())
  })

  it('loads every script it may run at open (retry state, dead letters, lease renewal too): none is met first as NOSCRIPT, which would count as a reload and a failover check', async () => {
    await admin.call('SCRIPT', 'FLUSH')
    await openTier()
    const every = [...ALL_SCRIPTS, RETRY, DROP_LETTERS, REQUEUE_LETTERS]
    const cached = (await admin.call('SCRIPT', 'EXISTS', ...every.map((script) => script.sha))) as number[]
    assert.deepEqual(
      every.filter((_, i) => cached[i] !== 1).map((script) => script.name),
      [],
      'scripts not loaded at open',
    )
    assert.ok(every.includes(RENEW))
  })

  it('after SCRIPT FLUSH (a restart, a promoted replica) a write, a claim (packed reply) and a replicated write load their scripts again, and the reloads are counted', async () => {
    const tier = new RedisTier({ client: await own.tierClient(), name: `t${++names}`, shards: 4, replicaTimeoutMs: 50 })
    await tier.open(context())
    const reloads = (): number => (tier as unknown as { port: { reloads: number } }).port.reloads
    assert.equal(reloads(), 0, 'every script was loaded at open')
    await admin.call('SCRIPT', 'FLUSH')
    const version = await written(tier, 'k', '"v"')
    const afterWrite = reloads()
    assert.ok(afterWrite >= 1, `the write's reload counted (${afterWrite})`)
    await tier.refresh()
    await admin.call('SCRIPT', 'FLUSH')
    const ops = await tier.take(1000, new Set(), undefined)
    assert.deepEqual(
      ops.map((op) => [op.key, op.kind === 'set' ? op.encoded : null, op.version]),
      [['k', '"v"', version]],
    )
    const afterClaim = reloads()
    assert.ok(afterClaim > afterWrite, `the claim's reload counted (${afterClaim})`)
    await admin.call('SCRIPT', 'FLUSH')
    const answer = await tier.write('r', '"w"', { force: false, replicated: true })
    assert.equal(answer.full, false)
    assert.ok(!answer.conflict && answer.version > version && answer.replicas === 0, JSON.stringify(answer))
    assert.ok(reloads() > afterClaim, `the replicated write's reload counted (${reloads()})`)
    assert.equal(await admin.hget(tier.layout.entry(tier.layout.shardOf('r'), 'r'), 'p'), '"w"')
  })

  it("classifies Redis's error replies alike on either client: versions exhausted, OOM as a full shard, any other reply as the reply itself (never RedisUnavailableError)", async () => {
    const tier = await openTier()
    const { layout } = tier
    const shard = layout.shardOf('k')
    await admin.hset(layout.meta(shard), 'floor', String(2 ** 53))
    await assert.rejects(written(tier, 'k', '"v"'), VersionExhaustedError)
    await admin.hset(layout.meta(shard), 'floor', '0')
    await admin.set(layout.entry(layout.shardOf('w'), 'w'), 'not a hash')
    await assert.rejects(tier.write('w', '"v"', { force: false, replicated: false }), (e: unknown) => {
      assert.ok(!(e instanceof RedisUnavailableError) && e instanceof Error && e.name === 'ReplyError' && /WRONGTYPE/.test(e.message), String(e))
      return true
    })
    await admin.config('SET', 'maxmemory', '1')
    try {
      assert.deepEqual(await tier.write('oom', '"v"', { force: false, replicated: false }), { full: true }, 'refused at maxmemory: backpressure')
    } finally {
      await admin.config('SET', 'maxmemory', '0')
    }
    assert.equal((await tier.write('oom', '"v"', { force: false, replicated: false })).full, false)
  })

  it('refuses an allkeys-* eviction policy, warns without AOF, and refuses another shard count', async () => {
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru')
    try {
      await assert.rejects(openTier(), (e: unknown) => e instanceof RedisConfigError && e.code === 'E_REDIS_CONFIG' && e.setting === 'maxmemory-policy')
    } finally {
      await admin.config('SET', 'maxmemory-policy', 'noeviction')
    }
    await admin.config('SET', 'maxmemory-policy', 'volatile-lru')
    await openTier() // dirty entries carry no TTL: volatile-* cannot evict them
    await admin.config('SET', 'maxmemory-policy', 'noeviction')
    const warnings: string[] = []
    await admin.config('SET', 'appendonly', 'no')
    try {
      await openTier(undefined, { context: { warn: (code) => warnings.push(code) } })
    } finally {
      await admin.config('SET', 'appendonly', 'yes')
    }
    assert.deepEqual(warnings, ['WB_REDIS_NO_AOF'])
    await openTier('fixed', { shards: 4 })
    await assert.rejects(openTier('fixed', { shards: 8 }), (e: unknown) => e instanceof RedisConfigError && e.setting === 'shards')
  })
}

describeEachServer(
  (binary, kind) => `the Redis tier, on its own ${binary} (${kind})`,
  (current) => {
    own = current
    admin = current.admin
  },
  suite,
  CLIENT_KINDS,
)
