// An app process of the Redis tier's fault tests (redis-fault-harness.ts), run with tsx. It opens
// the cache named in its config (argv[2], JSON) on a PostgresStore and, unless it only flushes
// (`keys` 0), writes random keys of `k0…k<keys-1>` one at a time, each value `{ w, s }` with a
// sequence number rising across its incarnations. Around each write it prints a JSON line:
// `I` (about to write), then `A` (acknowledged, with the version Redis made), `N` (applied, not
// confirmed by the replicas) or `E` (rejected, with the error's code). Pipes are synchronous on
// Linux, so a printed line survives a kill -9 that follows; a write killed between its `I` and its
// answer is indeterminate. With `flush` false the process never takes a batch (writes only).
// It runs until killed.
import { Redis } from 'ioredis'
import pg from 'pg'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { ReplicationNotConfirmedError } from '../../src/errors.js'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'
import { seededRandom } from '../helpers/seeded-random.js'
import { RecordingTier } from './redis-fault-harness.js'

export interface FaultChildConfig {
  redisUrl: string
  pgUrl: string
  table: string
  name: string
  /** Keys written (0: flush only). */
  keys: number
  writer: number
  /** Incarnation: sequence numbers start at run × 1e6. */
  run: number
  flush: boolean
  durability: 'memory' | 'replicated'
  seed: number
  /** ioredis retries per request (ioredis's default is 20). */
  retries?: number
}

/** One line of a child's output. */
export interface FaultLine {
  t: 'I' | 'A' | 'N' | 'E'
  k: string
  w: number
  s: number
  v?: number
  c?: string
}

const config = JSON.parse(process.argv[2] as string) as FaultChildConfig
const print = (line: FaultLine): void => void process.stdout.write(`${JSON.stringify(line)}\n`)
const pool = new pg.Pool({ connectionString: config.pgUrl, max: 2 })
pool.on('error', () => {})
const client = new Redis(config.redisUrl, { maxRetriesPerRequest: config.retries ?? 20 }).on('error', () => {})
const tier = new RecordingTier({ client, name: config.name, shards: 4, leaseMs: 500, replicaTimeoutMs: 500 })
tier.flushes = config.flush
const cache = await WriteBehindCache.open({
  store: new PostgresStore({ pool, table: config.table }),
  tier,
  durability: config.durability,
  flush: { intervalMs: 20, maxDelayMs: 100, batchSize: 16 },
  warn: () => {},
})
process.stdout.write('READY\n')
const random = seededRandom(config.seed)
for (let s = config.run * 1_000_000; config.keys > 0; s++) {
  const k = `k${Math.floor(random() * config.keys)}`
  const w = config.writer
  print({ t: 'I', k, w, s })
  try {
    await cache.set(k, { w, s })
    print({ t: 'A', k, w, s, v: tier.versions.get(k) })
  } catch (error) {
    if (error instanceof ReplicationNotConfirmedError) print({ t: 'N', k, w, s, v: error.version })
    else print({ t: 'E', k, w, s, c: (error as { code?: string }).code ?? String(error) })
  }
}
