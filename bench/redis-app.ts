/**
 * One app process of a system measured with several processes (bench/lib/app-fleet.ts): opens its
 * instance of the system on the shared Redis and table (a writebehind cache on the tier, or a
 * redis-handrolled / bullmq member with drainers or a worker of its own, or the bare write script's
 * callers of `redis-script-limit-4`), says `ready` on stdout,
 * waits for `go` on stdin, drives its share of the writers (writer ids from `firstWriter`, keys
 * prefixed `a<index>:`), writes what it acknowledged as JSON to the file named in its job and says
 * `loaded`; on `close` it drains beside the others, closes, writes its PostgreSQL counters and exits.
 */
import { writeFile } from 'node:fs/promises'
import { runLoad } from './driver.js'
import type { AppJob, AppResult } from './lib/app-fleet.js'
import type { WriteCounters } from './lib/pg.js'
import { BullMqSystem } from './systems/bullmq.js'
import { RedisHandrolledSystem } from './systems/redis-handrolled.js'
import { openRedisApp } from './systems/writebehind-redis.js'
import { scriptCaller } from './redis-limit.js'
import type { BenchSystem, BenchValue } from './systems/types.js'
import { allWorkloads, type Workload } from './workloads.js'

const job = JSON.parse(process.argv[2] ?? '{}') as AppJob

/** What this process runs: writes, then (on `close`) a drain beside the others and a close. */
interface Member {
  write(key: string, value: BenchValue): Promise<void>
  drainAndClose(): Promise<void>
  counters(): WriteCounters
}

async function member(): Promise<Member> {
  const { system, table } = job
  switch (system.kind) {
    case 'writebehind': {
      const app = await openRedisApp(system.target, table, system.level)
      // close() drains what is dirty (any instance's shards it can lease) before it closes.
      return { write: (key, value) => app.cache.set(key, value), drainAndClose: () => app.close(), counters: () => ({ ...app.db.counters }) }
    }
    case 'redis-handrolled': {
      const peer = await RedisHandrolledSystem.join(table, system.prefix)
      return { write: (key, value) => peer.write(key, value), drainAndClose: () => peer.drain().then(() => peer.leave()), counters: () => peer.dbStats() }
    }
    case 'script-limit': {
      const caller = await scriptCaller(system.url)
      return { write: caller.write, drainAndClose: () => Promise.resolve(caller.close()), counters: () => ({ statements: 0, rows: 0 }) }
    }
    case 'bullmq': {
      const peer = await BullMqSystem.join(table, system.queueName)
      return { write: (key, value) => peer.write(key, value), drainAndClose: () => peer.drain().then(() => peer.leave()), counters: () => peer.dbStats() }
    }
  }
}

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

/** Resolves when `word` arrives on stdin (a line of its own). */
const said = (() => {
  let seen = ''
  const wanted = new Map<string, () => void>()
  process.stdin.on('data', (chunk: Buffer) => {
    seen += chunk.toString()
    for (const [word, resolve] of wanted) if (seen.split('\n').includes(word)) resolve()
  })
  return (word: string) => new Promise<void>((resolve) => wanted.set(word, resolve))
})()

async function main(): Promise<void> {
  const workload = allWorkloads().find((w) => w.name === job.workload)
  if (workload === undefined) throw new Error(`unknown workload ${job.workload}`)
  const app = await member()
  const system: BenchSystem = {
    name: `app-${job.index}`,
    setup: () => Promise.reject(new Error('not used')),
    write: (key, value) => app.write(key, value),
    drain: () => Promise.resolve(),
    dbStats: () => app.counters(),
    teardown: () => Promise.resolve(),
  }
  const go = said('go')
  const close = said('close')
  process.stdout.write('ready\n')
  await go
  const load = await runLoad(system, ownKeys(workload), { arrival: job.arrival, durationMs: job.durationMs, writers: job.writers, maxWrites: job.maxWrites })
  const result: AppResult = {
    acked: load.acked,
    failed: load.failed,
    elapsedMs: load.elapsedMs,
    latencies: Array.from(load.latencies),
    lastAcked: [...load.lastAcked],
    failedKeys: [...load.failedKeys],
    firstError: load.firstError,
  }
  await writeFile(job.out, JSON.stringify(result))
  process.stdout.write('loaded\n')
  await close
  await app.drainAndClose()
  await writeFile(`${job.out}.counters`, JSON.stringify(app.counters()))
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
