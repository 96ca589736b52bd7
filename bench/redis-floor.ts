/**
 * The floor under the Redis tier's flushed row (`npx tsx bench/redis-floor.ts [entries]`): what
 * Redis's CPU per row is for the least any compare-and-swap flush must do, on a Redis of its own
 * set up as the bench's (AOF on, `everysec`), with entries shaped like the tier's (a hash per key:
 * payload, version, state, tombstone flag, first-dirty time; a dirty set and a version set per
 * shard, 16 shards). Each variant drains every entry in chunks of 64, one call at a time:
 *
 * - `one script`: per chunk, one script reads 64 due entries (version and payload) and marks them
 *   clean (HSET, one ZREM per set): no store in between, so not a flush; the bare cost of a row.
 * - `claim + ack`: a claim script (the due keys, then version, state and payload per key, packed in
 *   one MessagePack reply) and an ack script (per key: HGET the version, compare, HSET clean; one
 *   ZREM per set), as a flush that writes the store in between must.
 * - `the tier's claim + ack`: the tier's own `claim` and `ack` scripts (`scripts.ts`: lease, retry
 *   state, trust epoch, expiry, the shard's state in the ack's reply) on the same entries.
 *
 * Prints, per variant, Redis's CPU (INFO cpu) over the drain ÷ rows. Not a target's figure: what
 * the tier's `bench/flush-drain.ts` Redis µs per row can be compared against.
 *
 * `--callgrind <dir>` runs the Redis under `valgrind --tool=callgrind` (its dumps go to `dir`) and
 * prints Redis's instructions per row instead: counted only over each drain, and the same run after
 * run however loaded the machine is (a few thousand entries are enough; valgrind is ~50× slower).
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { infoFields } from '../src/tier/redis/startup.js'
import { unpack } from '../src/tier/redis/msgpack.js'
import { ACK as TIER_ACK, CLAIM as TIER_CLAIM } from '../src/tier/redis/scripts.js'
import { startBenchRedis } from './lib/own-redis.js'

const { values, positionals } = parseArgs({ allowPositionals: true, options: { callgrind: { type: 'string' } } })
const ENTRIES = Number(positionals[0] ?? 100_000)
const CALLGRIND = values.callgrind
const SHARDS = 16
const CHUNK = 64

const ONE_SCRIPT = `
local keys = redis.call('ZRANGE', KEYS[1], 0, ${CHUNK - 1})
local out = {}
for _, k in ipairs(keys) do
  local e = redis.call('HMGET', ARGV[1] .. k, 'ver', 'p')
  redis.call('HSET', ARGV[1] .. k, 'st', 'c')
  out[#out + 1] = k
  out[#out + 1] = e[1]
  out[#out + 1] = e[2]
end
if #keys > 0 then
  redis.call('ZREM', KEYS[1], unpack(keys))
  redis.call('ZREM', KEYS[2], unpack(keys))
end
return cmsgpack.pack(out)
`

const CLAIM = `
local keys = redis.call('ZRANGE', KEYS[1], 0, ${CHUNK - 1})
local out = {}
for _, k in ipairs(keys) do
  local e = redis.call('HMGET', ARGV[1] .. k, 'ver', 'st', 'p')
  if e[2] == 'd' then
    out[#out + 1] = k
    out[#out + 1] = e[1]
    out[#out + 1] = e[3]
  end
end
return cmsgpack.pack(out)
`

const ACK = `
local cleaned = {}
for i = 2, #ARGV, 2 do
  local entry = ARGV[1] .. ARGV[i]
  if redis.call('HGET', entry, 'ver') == ARGV[i + 1] then
    redis.call('HSET', entry, 'st', 'c')
    cleaned[#cleaned + 1] = ARGV[i]
  end
end
if #cleaned > 0 then
  redis.call('ZREM', KEYS[1], unpack(cleaned))
  redis.call('ZREM', KEYS[2], unpack(cleaned))
end
return #cleaned
`

function tag(shard: number): string {
  return `{floor:${shard}}`
}

async function fill(client: Redis): Promise<void> {
  const now = Date.now()
  for (let start = 0; start < ENTRIES; start += 5_000) {
    const pipeline = client.pipeline()
    for (let i = start; i < Math.min(ENTRIES, start + 5_000); i++) {
      const shard = i % SHARDS
      const key = `k${i}`
      const version = String(1_765_000_000_000_000 + i)
      pipeline.hset(`${tag(shard)}:e:${key}`, 'p', JSON.stringify({ seq: i, score: (i * 7919) % 1_000_003 }), 'ver', version, 'st', 'd', 'del', '0', 'since', String(now))
      pipeline.zadd(`${tag(shard)}:dirty`, now, key)
      pipeline.zadd(`${tag(shard)}:vers`, version, key)
    }
    await pipeline.exec()
  }
}

function redisCpu(info: string): number {
  const fields = infoFields(info)
  return (Number(fields.get('used_cpu_user') ?? 0) + Number(fields.get('used_cpu_sys') ?? 0)) * 1000
}

async function drain(client: Redis, variant: string): Promise<number> {
  let rows = 0
  for (let shard = 0; shard < SHARDS; shard++) {
    const keys = [`${tag(shard)}:dirty`, `${tag(shard)}:vers`] as const
    const prefix = `${tag(shard)}:e:`
    for (;;) {
      if (variant === "the tier's claim + ack") {
        const reply = (await client.callBuffer('EVALSHA', TIER_CLAIM.sha, 3, keys[0], `${tag(shard)}:lease`, `${tag(shard)}:retry`, prefix, 'floor', 30_000, CHUNK, '1', CHUNK * 2, 0)) as Buffer
        const claimed = unpack(reply) as Array<string | number | false>
        if (claimed.length <= 1) break
        const args: Array<string | number> = [0, prefix]
        for (let i = 1; i + 5 < claimed.length; i += 6) args.push(claimed[i] as string, String(claimed[i + 1]))
        const acked = (await client.call('EVALSHA', TIER_ACK.sha, 4, ...keys, `${tag(shard)}:meta`, `${tag(shard)}:retry`, ...args)) as number[]
        rows += acked[0] as number
        continue
      }
      if (variant === 'one script') {
        const reply = unpack((await client.callBuffer('EVAL', ONE_SCRIPT, 2, ...keys, prefix)) as Buffer) as string[]
        if (reply.length === 0) break
        rows += reply.length / 3
        continue
      }
      const claimed = unpack((await client.callBuffer('EVAL', CLAIM, 1, keys[0], prefix)) as Buffer) as string[]
      if (claimed.length === 0) break
      const args: string[] = [prefix]
      for (let i = 0; i < claimed.length; i += 3) args.push(claimed[i] as string, claimed[i + 1] as string)
      rows += Number(await client.call('EVAL', ACK, 2, ...keys, ...args))
    }
  }
  return rows
}

/** Stops counting and dumps; answers the instructions counted since the last dump (the dump's `totals`). */
function callgrindDump(dir: string, pid: number, dumps: number): number {
  execFileSync('callgrind_control', ['-i', 'off', String(pid)], { stdio: 'ignore' })
  execFileSync('callgrind_control', ['-d', String(pid)], { stdio: 'ignore' })
  const file = readdirSync(dir).find((name) => name === `callgrind.out.${dumps}`)
  const totals = /^totals: (\d+)/m.exec(file === undefined ? '' : readFileSync(join(dir, file), 'utf8'))
  if (totals === null) throw new Error(`no callgrind dump ${dumps} in ${dir}`)
  return Number(totals[1])
}

async function main(): Promise<void> {
  const wrapper = CALLGRIND === undefined ? [] : ['valgrind', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${join(CALLGRIND, 'callgrind.out')}`]
  const server = await startBenchRedis(undefined, wrapper)
  let dumps = 0
  const client = new Redis(server.url)
  try {
    // EVAL of the same source is cached by its SHA after the first call: load both once, untimed.
    await client.call('SCRIPT', 'LOAD', TIER_CLAIM.source)
    await client.call('SCRIPT', 'LOAD', TIER_ACK.source)
    for (const variant of ['one script', 'claim + ack', "the tier's claim + ack"]) {
      await client.flushall()
      await fill(client)
      const before = redisCpu(String(await client.info('cpu')))
      if (CALLGRIND !== undefined) execFileSync('callgrind_control', ['-i', 'on', String(server.pid)], { stdio: 'ignore' })
      const start = performance.now()
      const rows = await drain(client, variant)
      const ms = performance.now() - start
      if (CALLGRIND !== undefined) {
        const instructions = callgrindDump(CALLGRIND, server.pid, ++dumps)
        console.log(`${variant}: ${rows} rows; Redis ${(instructions / rows / 1000).toFixed(1)}k instructions per row`)
        continue
      }
      const cpu = redisCpu(String(await client.info('cpu'))) - before
      console.log(`${variant}: ${rows} rows in ${ms.toFixed(0)} ms; Redis CPU ${cpu.toFixed(0)} ms, ${((cpu * 1000) / rows).toFixed(1)} µs per row`)
    }
  } finally {
    client.disconnect()
    await server.stop()
  }
}

await main()
