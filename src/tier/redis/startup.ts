/**
 * What a Redis tier checks before its first write: the server must not be allowed to evict dirty
 * entries (`maxmemory-policy allkeys-*` is refused; the `volatile-*` policies only evict keys with
 * a TTL, and dirty entries never have one), persistence off is warned about (a restart then loses
 * every unflushed write), and the name's shard count and layout format must match this instance's.
 * It also loads the scripts, so the first writes need no NOSCRIPT round trip.
 */
import { RedisConfigError } from '../../errors.js'
import type { RedisClientPort } from './client-port.js'
import { FORMAT_VERSION, type RedisLayout } from './layout.js'
import { ALL_SCRIPTS, CONFIG } from './scripts.js'

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
  const memory = infoFields(await port.info('memory'))
  const policy = memory.get('maxmemory_policy') ?? (await port.configGet('maxmemory-policy'))
  if (policy?.startsWith('allkeys-') === true) {
    throw new RedisConfigError(
      'maxmemory-policy',
      `Redis maxmemory-policy is ${policy}: it may evict unflushed writes of the cache "${layout.name}". ` +
        'Set it to noeviction (or a volatile-* policy, which only evicts clean entries): CONFIG SET maxmemory-policy noeviction, and in redis.conf.',
    )
  }
  const persistence = infoFields(await port.info('persistence'))
  if (replica.replicaWait === 'waitaof') await checkWaitAof(port, persistence, replica.replicaTimeoutMs, warn)
  if (persistence.get('aof_enabled') === '0') {
    warn(
      'WB_REDIS_NO_AOF',
      `writebehind: Redis has appendonly off: a Redis restart loses every write of "${layout.name}" not yet flushed (RDB snapshots keep only what they caught). Turn on appendonly yes, or use replicas and durability 'replicated'.`,
    )
  }
  await Promise.all(ALL_SCRIPTS.map((script) => port.load(script)))
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

/** `replicaWait: 'waitaof'` needs the command (Redis 7.2+, Valkey) and the primary's append-only file. */
async function checkWaitAof(port: RedisClientPort, persistence: Map<string, string>, timeoutMs: number, warn: (code: string, message: string) => void): Promise<void> {
  if (!(await port.hasCommand('waitaof'))) {
    const server = infoFields(await port.info('server'))
    const version = server.get('valkey_version') ?? server.get('redis_version') ?? 'unknown'
    throw new RedisConfigError(
      'replicaWait',
      `replicaWait 'waitaof' needs the WAITAOF command, which this server (version ${version}) does not have: it came in Redis 7.2 and Valkey 7.2. Upgrade the server, or use replicaWait 'wait' (WAIT: the replicas received the write, not fsynced it).`,
    )
  }
  if (persistence.get('aof_enabled') !== '1') {
    throw new RedisConfigError(
      'replicaWait',
      "replicaWait 'waitaof' waits for the primary to fsync each write to its append-only file, and this server has appendonly off. Set appendonly yes (CONFIG SET appendonly yes, and in the config file), or use replicaWait 'wait'.",
    )
  }
  // Replicas report their fsynced offset about once a second (measured on Valkey 8.0, with appendfsync everysec and always alike).
  if (timeoutMs < 2000) {
    warn(
      'WB_REDIS_WAITAOF_TIMEOUT',
      `writebehind: replicaWait 'waitaof' with replicaTimeoutMs ${timeoutMs}: replicas report their AOF fsyncs about once a second, so writes may be reported not confirmed although they will be fsynced. Raise replicaTimeoutMs to 2000 or more.`,
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
