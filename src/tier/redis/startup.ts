/**
 * What a Redis tier checks before its first write: the one server (standalone, or the primary
 * Sentinel named) must be a primary, not a replica; the server must not be allowed to evict dirty
 * entries (`maxmemory-policy allkeys-*` is refused; the `volatile-*` policies only evict keys with
 * a TTL, and dirty entries never have one), persistence off is warned about (a restart then loses
 * every unflushed write), and the name's shard count and layout format must match this instance's.
 * On a Cluster each primary is checked, and too few shards for its primaries is warned about
 * (a primary then holds more than its share of them, so of the writes). It also loads the scripts,
 * so the first writes need no NOSCRIPT round trip.
 */
import { RedisConfigError } from '../../errors.js'
import type { RedisClientPort, RedisServerPort } from './client-port.js'
import { FORMAT_VERSION, type RedisLayout } from './layout.js'
import { ALL_SCRIPTS, CONFIG } from './scripts.js'
import { DROP_LETTERS, REQUEUE_LETTERS } from './letter-scripts.js'
import { RETRY } from './retry-scripts.js'

/** Shards per primary below which a Cluster spreads a tier's writes unevenly (REDIS-TIER.md: S ≥ 8 × primaries). */
export const SHARDS_PER_PRIMARY = 8

/** What `checkServer` needs of the tier's options (durability `replicated`). */
export interface ReplicaSettings {
  readonly replicaWait: 'wait' | 'waitaof'
  readonly replicaTimeoutMs: number
}

export async function checkServer(
  port: RedisClientPort,
  layout: RedisLayout,
  warn: (code: string, message: string) => void,
  replica: ReplicaSettings = { replicaWait: 'wait', replicaTimeoutMs: 0 },
): Promise<void> {
  const primaries = await port.primaries()
  // A client on a replica (a replica's URL, or Sentinel with role 'slave') would have every write refused (READONLY).
  // A Cluster lists its primaries itself (and may list a demoted one for a moment during a failover): only the one server is checked.
  if (primaries.length === 1) await checkPrimary(primaries[0] as RedisServerPort, layout)
  const noAof: string[] = []
  for (const server of primaries) {
    const memory = infoFields(await server.info('memory'))
    const policy = memory.get('maxmemory_policy') ?? (await server.configGet('maxmemory-policy'))
    if (policy?.startsWith('allkeys-') === true) {
      throw new RedisConfigError(
        'maxmemory-policy',
        `Redis maxmemory-policy is ${policy} on ${server.address}: it may evict unflushed writes of the cache "${layout.name}". ` +
          'Set it to noeviction (or a volatile-* policy, which only evicts clean entries) on every primary: CONFIG SET maxmemory-policy noeviction, and in redis.conf.',
      )
    }
    const persistence = infoFields(await server.info('persistence'))
    if (replica.replicaWait === 'waitaof') await checkWaitAof(server, persistence)
    if (persistence.get('aof_enabled') === '0') noAof.push(server.address)
  }
  // Replicas report their fsynced offset about once a second (measured on Valkey 8.0, with appendfsync everysec and always alike).
  if (replica.replicaWait === 'waitaof' && replica.replicaTimeoutMs < 2000) {
    warn(
      'WB_REDIS_WAITAOF_TIMEOUT',
      `writebehind: replicaWait 'waitaof' with replicaTimeoutMs ${replica.replicaTimeoutMs}: replicas report their AOF fsyncs about once a second, so writes may be reported not confirmed although they will be fsynced. Raise replicaTimeoutMs to 2000 or more.`,
    )
  }
  if (noAof.length > 0) {
    warn(
      'WB_REDIS_NO_AOF',
      `writebehind: Redis has appendonly off (${noAof.join(', ')}): a Redis restart loses every write of "${layout.name}" not yet flushed (RDB snapshots keep only what they caught). Turn on appendonly yes, or use replicas and durability 'replicated'.`,
    )
  }
  if (primaries.length > 1 && layout.shards < SHARDS_PER_PRIMARY * primaries.length) {
    warn(
      'WB_REDIS_FEW_SHARDS',
      `writebehind: the cache "${layout.name}" has ${layout.shards} shards on a Cluster of ${primaries.length} primaries: some primaries hold more of its shards, so take more of its writes, than others. ` +
        `Create it with shards: ${SHARDS_PER_PRIMARY * primaries.length} or more (at least ${SHARDS_PER_PRIMARY} per primary; the count is fixed when the name is first used).`,
    )
  }
  // Every script the tier runs, those of retry state and dead letters too: one first met as NOSCRIPT counts as a reload, which makes the tier check for a failover (trust.ts).
  await Promise.all([...ALL_SCRIPTS, RETRY, DROP_LETTERS, REQUEUE_LETTERS].map((script) => port.load(script)))
  const reply = (await port.run({ script: CONFIG, keys: [layout.cfg], args: [layout.shards, FORMAT_VERSION] })) as Array<string | null>
  const [shards, format] = reply
  if (Number(format) !== FORMAT_VERSION) {
    throw new RedisConfigError(
      'format',
      `The cache "${layout.name}" in Redis has layout format ${String(format)}; this release reads format ${FORMAT_VERSION}. Open it with the release that created it, or use another name.`,
    )
  }
  if (Number(shards) !== layout.shards) {
    throw new RedisConfigError(
      'shards',
      `The cache "${layout.name}" in Redis was created with ${String(shards)} shards; this instance asks for ${layout.shards}. Pass shards: ${String(shards)} (the count is fixed at creation).`,
    )
  }
}

/** The one server must be a primary: writes to a replica are refused, and its replication id is not the one the data will live under. */
async function checkPrimary(server: RedisServerPort, layout: RedisLayout): Promise<void> {
  const role = infoFields(await server.info('replication')).get('role')
  if (role !== undefined && role !== 'master') {
    throw new RedisConfigError(
      'role',
      `The Redis client of the cache "${layout.name}" is connected to a replica (${server.address} has role ${role}): every write would be refused. ` +
        "Connect it to the primary: the primary's URL, or with Sentinel new Redis({ sentinels, name }) without role: 'slave'.",
    )
  }
}

/** `replicaWait: 'waitaof'` needs the command (Redis 7.2+, Valkey) and the append-only file on every primary. */
async function checkWaitAof(server: RedisServerPort, persistence: Map<string, string>): Promise<void> {
  if (!(await server.hasCommand('waitaof'))) {
    const info = infoFields(await server.info('server'))
    const version = info.get('valkey_version') ?? info.get('redis_version') ?? 'unknown'
    throw new RedisConfigError(
      'replicaWait',
      `replicaWait 'waitaof' needs the WAITAOF command, which ${server.address} (version ${version}) does not have: it came in Redis 7.2 and Valkey 7.2. Upgrade the server, or use replicaWait 'wait' (WAIT: the replicas received the write, not fsynced it).`,
    )
  }
  if (persistence.get('aof_enabled') !== '1') {
    throw new RedisConfigError(
      'replicaWait',
      `replicaWait 'waitaof' waits for the primary to fsync each write to its append-only file, and ${server.address} has appendonly off. Set appendonly yes (CONFIG SET appendonly yes, and in the config file), or use replicaWait 'wait'.`,
    )
  }
}

/** `INFO` text as a map of its `field:value` lines. */
export function infoFields(text: string): Map<string, string> {
  const fields = new Map<string, string>()
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':')
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1).trim())
  }
  return fields
}
