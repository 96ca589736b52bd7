/**
 * bullmq: the common Node pattern — every write is acknowledged once its job is in Redis
 * (`queue.add`), and a Worker writes the jobs to PostgreSQL. Open-source BullMQ hands a processor
 * one job at a time (batches are a BullMQ Pro feature), so the worker runs with high concurrency
 * and its processors share a micro-batcher that turns them into multi-row upserts; a job
 * completes when its batch commits.
 *
 * `bullmq-<N>`: N app processes (bench/lib/app-fleet.ts), each with W/N of the writers and a Worker
 * of its own on the same queue and table, beside this process's Worker: the same shape as the Redis
 * tier's `-<N>` systems, so the two compare at equal process counts.
 */
import { Queue, Worker, type Job } from 'bullmq'
import type { Redis } from 'ioredis'
import type { LoadOptions, LoadResult } from '../driver.js'
import { AppFleet } from '../lib/app-fleet.js'
import { MicroBatcher } from '../lib/micro-batcher.js'
import { CountingPool, openPool, resetPeerTable, tableFor } from '../lib/pg.js'
import { openRedis } from '../lib/redis.js'
import type { Workload } from '../workloads.js'
import type { BenchSystem, BenchValue, TableInfo } from './types.js'

const WORKER_CONCURRENCY = 500
const BATCH_SIZE = 500
const LINGER_MS = 10
const CONNECTIONS = 4

interface JobData {
  key: string
  value: string
  seq: number
}

export class BullMqSystem implements BenchSystem {
  readonly name: string
  private readonly table: string
  private readonly queueName: string
  private readonly connections: Redis[] = []
  private db: CountingPool | undefined
  private queue: Queue<JobData> | undefined
  private worker: Worker<JobData> | undefined
  private fleet: AppFleet | undefined

  constructor(
    private readonly processes = 1,
    shared?: { table: string; queueName: string },
  ) {
    this.name = processes === 1 ? 'bullmq' : `bullmq-${processes}`
    this.table = shared?.table ?? tableFor(this.name)
    this.queueName = shared?.queueName ?? `wbbench-${process.pid}-${Date.now()}`
  }

  /** An app process's member (bench/redis-app.ts): a Queue and a Worker on the measuring process's queue and table. */
  static async join(table: string, queueName: string): Promise<BullMqSystem> {
    const member = new BullMqSystem(1, { table, queueName })
    await member.start()
    return member
  }

  async setup(): Promise<TableInfo> {
    const pool = openPool(CONNECTIONS)
    await resetPeerTable(pool, this.table)
    await pool.end()
    await this.start()
    return { table: this.table, keyColumn: 'key', valueColumn: 'value' }
  }

  /** With more than one process: the writers run in the app processes. */
  get runLoad(): ((workload: Workload, options: LoadOptions) => Promise<LoadResult>) | undefined {
    if (this.processes === 1) return undefined
    return (workload, options) => (this.fleet = new AppFleet(this.processes, { kind: 'bullmq', queueName: this.queueName }, this.table)).run(workload, options)
  }

  /** Closes this member's Worker (after its active jobs) and connections, leaving the shared queue and table. */
  async leave(): Promise<void> {
    await this.worker?.close()
    await this.queue?.close()
    await Promise.allSettled(this.connections.map((c) => c.quit()))
    await this.db?.end()
  }

  private async start(): Promise<void> {
    this.db = new CountingPool(openPool(CONNECTIONS))
    const batcher = new MicroBatcher(this.db, this.table, BATCH_SIZE, LINGER_MS)
    this.queue = new Queue<JobData>(this.queueName, { connection: this.redis() })
    this.worker = new Worker<JobData>(this.queueName, (job: Job<JobData>) => batcher.add({ key: job.data.key, value: job.data.value, version: job.data.seq }), {
      connection: this.redis(),
      concurrency: WORKER_CONCURRENCY,
    })
    this.worker.on('failed', (job, err) => console.error(`bullmq job ${job?.id} failed: ${err.message}`))
    await this.worker.waitUntilReady()
  }

  async write(key: string, value: BenchValue): Promise<void> {
    await this.queue!.add('set', { key, value: JSON.stringify(value), seq: value.seq }, { removeOnComplete: true, removeOnFail: 1000, attempts: 3, backoff: { type: 'exponential', delay: 100 } })
  }

  /** Jobs not completed yet (waiting, active, delayed). */
  async backlog(): Promise<number> {
    const counts = await this.queue!.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'paused')
    return Object.values(counts).reduce((sum, n) => sum + n, 0)
  }

  async drain(): Promise<void> {
    await Promise.all([this.drainHere(), this.fleet?.close()])
  }

  private async drainHere(): Promise<void> {
    for (;;) {
      const counts = await this.queue!.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'paused')
      if (Object.values(counts).every((n) => n === 0)) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  dbStats() {
    const elsewhere = this.fleet?.counters ?? { statements: 0, rows: 0 }
    return { statements: this.db!.counters.statements + elsewhere.statements, rows: this.db!.counters.rows + elsewhere.rows }
  }

  async teardown(): Promise<void> {
    await this.fleet?.close()
    await this.worker?.close()
    await this.queue?.obliterate({ force: true })
    await this.queue?.close()
    await Promise.allSettled(this.connections.map((c) => c.quit()))
    await this.db?.end()
  }

  private redis(): Redis {
    const connection = openRedis()
    this.connections.push(connection)
    return connection
  }
}
