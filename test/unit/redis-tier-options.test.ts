/**
 * `new RedisTier()` options: checked at the door (no server needed), and the README's table of
 * them kept equal to `REDIS_TIER_DEFAULTS`; the shard of a key is stable (every process computes
 * the same one) and spread.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { InvalidOptionError } from '../../src/errors.js'
import { RedisLayout } from '../../src/tier/redis/layout.js'
import { REDIS_TIER_DEFAULTS, RedisTier } from '../../src/redis.js'
import { createClient, createClientPool, createCluster, createSentinel } from 'redis'

const fakeClient = { call: async () => null, callBuffer: async () => null, pipeline: () => ({ call: () => undefined, exec: async () => [] }) }

describe('RedisTier options', () => {
  it('refuses a missing client, a name with braces or empty, and bad numbers, naming the option', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: 'n' }, 'client'],
      [{ client: {}, name: 'n' }, 'client'],
      [{ client: fakeClient, name: '{x}' }, 'name'],
      [{ client: fakeClient, name: '' }, 'name'],
      [{ client: fakeClient, name: 'n', shards: 0 }, 'shards'],
      [{ client: fakeClient, name: 'n', shards: 1.5 }, 'shards'],
      [{ client: fakeClient, name: 'n', leaseMs: 10 }, 'leaseMs'],
      [{ client: fakeClient, name: 'n', replicas: 0 }, 'replicas'],
      [{ client: fakeClient, name: 'n', replicaWait: 'aof' }, 'replicaWait'],
      [{ client: fakeClient, name: 'n', commandTimeoutMs: 10 }, 'commandTimeoutMs'],
      [{ client: fakeClient, name: 'n', commandTimeoutMs: 1000.5 }, 'commandTimeoutMs'],
    ]
    for (const [options, option] of cases) {
      assert.throws(
        () => new RedisTier(options as never),
        (e: unknown) => e instanceof InvalidOptionError && e.option === option,
        JSON.stringify(options),
      )
    }
    assert.deepEqual({ ...new RedisTier({ client: fakeClient, name: 'ok' }).options, client: undefined }, { ...REDIS_TIER_DEFAULTS, client: undefined, name: 'ok' })
  })

  it('takes a connected node-redis client; refuses one not connected, and its Cluster, Sentinel and pool clients, saying what to pass', () => {
    const url = 'redis://127.0.0.1:1' // never connected to
    const cases: Array<[unknown, RegExp]> = [
      [createClient({ url }), /not connected; connect it first \(await client\.connect\(\)\)/],
      [createCluster({ rootNodes: [{ url }] }), /a node-redis Cluster \(createCluster\(\)\); for a Redis Cluster use ioredis/],
      [createSentinel({ name: 'm', sentinelRootNodes: [{ host: '127.0.0.1', port: 1 }] }), /a node-redis Sentinel client/],
      [createClientPool({ url }), /a node-redis pool \(createClientPool\(\)\)/],
    ]
    for (const [client, message] of cases) {
      assert.throws(
        () => new RedisTier({ client: client as never, name: 'n' }),
        (e: unknown) => e instanceof InvalidOptionError && e.option === 'client' && message.test(e.message),
        String(message),
      )
    }
    const connected = { isOpen: true, isReady: true, sendCommand: async () => null }
    assert.equal(new RedisTier({ client: connected, name: 'ok' }).options.client, connected)
  })

  it('the README table says the defaults REDIS_TIER_DEFAULTS holds', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
    const table = readme.slice(readme.indexOf('| `new RedisTier({ … })` |'))
    const documented: Record<string, number | string> = {}
    for (const line of table.split('\n').slice(2)) {
      if (!line.startsWith('|')) break
      const [, name, value] = line.split('|').map((c) => c.trim().replaceAll('`', ''))
      if (value !== undefined && /^[\d_]+$/.test(value)) documented[name as string] = Number(value.replaceAll('_', ''))
      else if (value !== undefined && /^'\w+'$/.test(value)) documented[name as string] = value.slice(1, -1)
    }
    assert.deepEqual(documented, { ...REDIS_TIER_DEFAULTS })
  })

  it('puts a key in the same shard every time, and spreads keys over the shards', () => {
    const layout = new RedisLayout('n', 16)
    assert.equal(layout.shardOf('player:42'), new RedisLayout('other', 16).shardOf('player:42'))
    const counts = new Array<number>(16).fill(0)
    for (let i = 0; i < 16_000; i++) counts[layout.shardOf(`key:${i}`)] = (counts[layout.shardOf(`key:${i}`)] ?? 0) + 1
    for (const c of counts) assert.ok(c > 700 && c < 1300, `a shard holds ${c} of 16000 keys`)
    assert.equal(layout.entry(3, 'a{b}'), '{wb:n:3}:e:a{b}', 'the hash tag is ours, first; the key follows verbatim')
  })
})
