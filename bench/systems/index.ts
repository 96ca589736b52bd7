/**
 * Every benchmarked system by name, in the order the harness runs them, and the default set.
 */
import { BullMqSystem } from './bullmq.js'
import { DirectSystem } from './direct.js'
import { RedisHandrolledSystem } from './redis-handrolled.js'
import type { SystemFactory } from './types.js'
import { WriteBehindSystem } from './writebehind.js'
import { WriteBehindRedisSystem } from './writebehind-redis.js'
import { WriteThroughSystem } from './write-through.js'

export const SYSTEMS: ReadonlyMap<string, SystemFactory> = new Map<string, SystemFactory>([
  ['direct-1', () => new DirectSystem(1)],
  ['direct-16', () => new DirectSystem(16)],
  ['write-through', () => new WriteThroughSystem()],
  ['bullmq', () => new BullMqSystem()],
  ['redis-handrolled', () => new RedisHandrolledSystem()],
  // Opt-in: the two Redis peers with 4 app processes (16 writers each), like writebehind-redis-memory-4.
  ['redis-handrolled-4', () => new RedisHandrolledSystem(4)],
  ['bullmq-4', () => new BullMqSystem(4)],
  ['writebehind-memory', () => new WriteBehindSystem('memory')],
  ['writebehind-log', () => new WriteBehindSystem('log')],
  ['writebehind-disk', () => new WriteBehindSystem('disk')],
  ['writebehind-store', () => new WriteBehindSystem('store')],
  // Opt-in: flushes every second in batches of up to 20k, trading staleness for coalescing.
  ['writebehind-log-1s', () => new WriteBehindSystem('log', { suffix: '1s', options: { flush: { intervalMs: 1000, batchSize: 20_000 } } })],
  // Counters: every write is `cache.increment(key)` (a merge op per key per flush, added by the store), beside writebehind-log's sets.
  ['writebehind-log-increment', () => new WriteBehindSystem('log', { suffix: 'increment', increment: true })],
  // Opt-in: one log write(2) per event-loop turn instead of one per writer callback, trading ack latency for throughput.
  ['writebehind-log-grouped', () => new WriteBehindSystem('log', { suffix: 'grouped', options: { logWriteScheduling: 'immediate' } })],
  // Opt-in (each starts its own redis-server, a replica too for `replicated`): the Redis tier, with 1 app process or 4.
  ['writebehind-redis-memory', () => new WriteBehindRedisSystem('memory', 1)],
  ['writebehind-redis-memory-2', () => new WriteBehindRedisSystem('memory', 2)],
  ['writebehind-redis-memory-4', () => new WriteBehindRedisSystem('memory', 4)],
  ['writebehind-redis-replicated', () => new WriteBehindRedisSystem('replicated', 1)],
  ['writebehind-redis-replicated-2', () => new WriteBehindRedisSystem('replicated', 2)],
  ['writebehind-redis-replicated-4', () => new WriteBehindRedisSystem('replicated', 4)],
  // Opt-in (each starts its own 3+3 Redis Cluster): the Redis tier on a cluster, with 1, 2 or 4 app processes.
  ...(['memory', 'replicated'] as const).flatMap((level) =>
    [1, 2, 4].map((n): [string, SystemFactory] => [`writebehind-redis-cluster-${level}${n === 1 ? '' : `-${n}`}`, () => new WriteBehindRedisSystem(level, n, false, true)]),
  ),
  // Nothing flushed during the load: the drain times the flush of the whole backlog (the tier's flush rows/s).
  ['writebehind-redis-memory-flush', () => new WriteBehindRedisSystem('memory', 1, true)],
])

/** The systems that are not in the default set: name them in --systems. */
export const OPT_IN: readonly string[] = [
  'writebehind-log-1s',
  'writebehind-log-grouped',
  'redis-handrolled-4',
  'bullmq-4',
  ...[...SYSTEMS.keys()].filter((name) => name.startsWith('writebehind-redis-')),
]

/** What runs without --systems: every system above except the opt-in variants. */
export const DEFAULT_SYSTEMS: readonly string[] = [...SYSTEMS.keys()].filter((name) => !OPT_IN.includes(name))

/** The Redis tier's comparison (bench/RESULTS-redis.md): its systems, the two Redis peers, and both probes. */
export const REDIS_SYSTEMS: readonly string[] = [
  'redis-script-limit',
  'redis-script-limit-4',
  'writebehind-redis-memory',
  'writebehind-redis-memory-4',
  'writebehind-redis-replicated',
  'writebehind-redis-replicated-4',
  'writebehind-redis-memory-flush',
  'redis-handrolled',
  'bullmq',
  'redis-handrolled-4',
  'bullmq-4',
  'pg-ceiling',
]

/** Standalone Redis against a Redis Cluster, with 1, 2 and 4 app processes, beside the embedded tier (bench/README.md, "Redis Cluster"). */
export const CLUSTER_SYSTEMS: readonly string[] = [
  'writebehind-log',
  ...(['memory', 'replicated'] as const).flatMap((level) => ['', '-cluster'].flatMap((where) => ['', '-2', '-4'].map((n) => `writebehind-redis${where}-${level}${n}`))),
]

/** The system every ratio is taken against. */
export const BASELINE = 'direct-1'
