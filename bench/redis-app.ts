/**
 * One app process of a multi-process Redis tier system (bench/systems/writebehind-redis.ts): opens
 * a cache on the shared tier, says `ready` on stdout, waits for `go` on stdin, drives its share of
 * the writers (writer ids from `firstWriter`, keys prefixed `a<index>:`), closes its cache, and
 * writes what it acknowledged as JSON to the file named in its job.
 */
import { writeFile } from 'node:fs/promises'
import { runLoad, type Arrival } from './driver.js'
import { openRedisApp, type AppResult, type RedisLevel, type RedisTarget } from './systems/writebehind-redis.js'
import type { BenchSystem } from './systems/types.js'
import { allWorkloads, type Workload } from './workloads.js'

interface AppJob {
  target: RedisTarget
  table: string
  level: RedisLevel
  workload: string
  index: number
  writers: number
  firstWriter: number
  durationMs: number
  maxWrites: number
  arrival: Arrival
  out: string
}

const job = JSON.parse(process.argv[2] ?? '{}') as AppJob

function ownKeys(workload: Workload): Workload {
  const prefix = `a${job.index}:`
  return {
    ...workload,
    keys(writer) {
      const stream = workload.keys(job.firstWriter + writer)
      return { next: () => prefix + stream.next() }
    },
    pauseAt: (elapsedMs) => workload.pauseAt(elapsedMs),
  }
}

async function main(): Promise<void> {
  const workload = allWorkloads().find((w) => w.name === job.workload)
  if (workload === undefined) throw new Error(`unknown workload ${job.workload}`)
  const app = await openRedisApp(job.target, job.table, job.level)
  const system: BenchSystem = {
    name: `app-${job.index}`,
    setup: () => Promise.reject(new Error('not used')),
    write: (key, value) => app.cache.set(key, value),
    drain: () => Promise.resolve(),
    dbStats: () => ({ ...app.db.counters }),
    teardown: () => Promise.resolve(),
  }
  const go = new Promise<void>((resolve) => process.stdin.once('data', () => resolve()))
  process.stdout.write('ready\n')
  await go
  const load = await runLoad(system, ownKeys(workload), { arrival: job.arrival, durationMs: job.durationMs, writers: job.writers, maxWrites: job.maxWrites })
  await app.close()
  const result: AppResult = {
    acked: load.acked,
    failed: load.failed,
    elapsedMs: load.elapsedMs,
    latencies: Array.from(load.latencies),
    lastAcked: [...load.lastAcked],
    failedKeys: [...load.failedKeys],
    firstError: load.firstError,
    counters: { ...app.db.counters },
  }
  await writeFile(job.out, JSON.stringify(result))
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
