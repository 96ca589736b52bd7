/**
 * bullmq: the common Node pattern — every write is acknowledged once its job is in Redis
 * (`queue.add`), and a Worker writes the jobs to PostgreSQL. Open-source BullMQ hands a processor
 * one job at a time (batches are a BullMQ Pro feature), so the worker runs with high concurrency
 * and its processors share a micro-batcher that turns them into multi-row upserts; a job
 * completes when its batch commits.
 */
import { Queue, Worker, type Job } from 'bullmq'
import type { Redis } from 'ioredis'
import { MicroBatcher } from '../lib/micro-batcher.js'
import { CountingPool, openPool, resetPeerTable, tableFor } from '../lib/pg.js'
import { openRedis } from '../lib/redis.js'
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
  readonly name = 'bullmq'
  private readonly table = tableFor(this.name)
  private readonly queueName = `wbbench-${process.pid}-${Date.now()}`
  private readonly connections: Redis[] = []
  private db: CountingPool | undefined
  private queue: Queue<JobData> | undefined
  private worker: Worker<JobData> | undefined

  async setup(): Promise<TableInfo> {
    const pool = openPool(CONNECTIONS)
    this.db = new CountingPool(pool)
    await resetPeerTable(pool, this.table)
    const batcher = new MicroBatcher(this.db, this.table, BATCH_SIZE, LINGER_MS)
    this.queue = new Queue<JobData>(this.queueName, { connection: this.redis() })
    this.worker = new Worker<JobData>(this.queueName, (job: Job<JobData>) => batcher.add({ key: job.data.key, value: job.data.value, version: job.data.seq }), {
      connection: this.redis(),
      concurrency: WORKER_CONCURRENCY,
    })
    this.worker.on('failed', (job, err) => console.error(`bullmq job ${job?.id} failed: ${err.message}`))
    await this.worker.waitUntilReady()
    return { table: this.table, keyColumn: 'key', valueColumn: 'value' }
  }

  async write(key: string, value: BenchValue): Promise<void> {
    await this.queue!.add('set', { key, value: JSON.stringify(value), seq: value.seq }, { removeOnComplete: true, removeOnFail: 1000, attempts: 3, backoff: { type: 'exponential', delay: 100 } })
  }

  async drain(): Promise<void> {
    for (;;) {
      const counts = await this.queue!.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'paused')
      if (Object.values(counts).every((n) => n === 0)) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  dbStats() {
    return { ...this.db!.counters }
  }

  async teardown(): Promise<void> {
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
