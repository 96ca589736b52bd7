/**
 * Every benchmarked system by name, in the order the harness runs them.
 */
import { BullMqSystem } from './bullmq.js'
import { DirectSystem } from './direct.js'
import { RedisHandrolledSystem } from './redis-handrolled.js'
import type { SystemFactory } from './types.js'
import { WriteBehindSystem } from './writebehind.js'
import { WriteThroughSystem } from './write-through.js'

export const SYSTEMS: ReadonlyMap<string, SystemFactory> = new Map<string, SystemFactory>([
  ['direct-1', () => new DirectSystem(1)],
  ['direct-16', () => new DirectSystem(16)],
  ['write-through', () => new WriteThroughSystem()],
  ['bullmq', () => new BullMqSystem()],
  ['redis-handrolled', () => new RedisHandrolledSystem()],
  ['writebehind-memory', () => new WriteBehindSystem('memory')],
  ['writebehind-log', () => new WriteBehindSystem('log')],
  ['writebehind-disk', () => new WriteBehindSystem('disk')],
  ['writebehind-store', () => new WriteBehindSystem('store')],
])

/** The system every ratio is taken against. */
export const BASELINE = 'direct-1'
