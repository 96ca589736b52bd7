/**
 * The harness of the Redis tier's fault tests (after Jepsen's set check): app processes
 * (`redis-fault-child.ts`) report every write they try and every acknowledgement; the `Ledger`
 * collects them; `checkLedger` compares the store and Redis against it; `VersionWatch` samples the
 * store while the run goes on and records any row whose version went down.
 */
import { spawn } from 'node:child_process'
import { isDeepStrictEqual } from 'node:util'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import type { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { ReplicationNotConfirmedError } from '../../src/errors.js'
import type { PendingOp } from '../../src/flush/pending-op.js'
import { RedisTier } from '../../src/redis.js'
import type { WriteAnswer, WriteMode } from '../../src/tier/redis/redis-tier.js'
import { auditRows, type AuditRow, type StoredRow } from '../helpers/audited-table.js'
import { childLines } from '../helpers/child-lines.js'
import type { FaultChildConfig, FaultLine } from './redis-fault-child.js'

/** A tier that records the version Redis made for each key's latest write (its writers write a key one at a time); with `flushes` false it never takes a batch. */
export class RecordingTier extends RedisTier {
  readonly versions = new Map<string, number>()
  flushes = true
  override async write(key: string, encoded: string | null, mode: WriteMode): Promise<WriteAnswer> {
    const answer = await super.write(key, encoded, mode)
    if (!answer.full && answer.conflict !== true) this.versions.set(key, answer.version)
    return answer
  }
  override take(max: number, busy: ReadonlySet<string>, first: ReadonlyMap<string, unknown> | undefined): PendingOp[] | Promise<PendingOp[]> {
    return this.flushes ? super.take(max, busy, first) : []
  }
}

const CHILD = new URL('./redis-fault-child.ts', import.meta.url).pathname

export interface AppProcess {
  readonly config: FaultChildConfig
  readonly pid: number
  readonly ready: Promise<void>
  readonly exited: Promise<void>
  kill(): Promise<void>
}

/** Starts an app process; each of its lines goes to `ledger`. */
export function spawnApp(config: FaultChildConfig, ledger: Ledger): AppProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] })
  let markReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => (markReady = resolve))
  childLines(child.stdout, (line) => (line === 'READY' ? markReady() : ledger.take(JSON.parse(line) as FaultLine)))
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      if (code !== null && code !== 0) ledger.crashes.push(`writer ${config.writer} exited ${code}: ${stderr.slice(-2000)}`)
      markReady()
      resolve()
    }),
  )
  return {
    config,
    pid: child.pid as number,
    ready,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
  }
}

/**
 * In-process writers: `lanes` loops, lane j writing keys k<j>, k<j+lanes>… (`keys` in all, `prefix`
 * instead of k) one at a time, values `{ w: j, s }`, until `stop()`; each try and answer goes to
 * `ledger` as a child's lines do.
 */
export async function writeLoops(cache: WriteBehindCache, tier: RecordingTier, ledger: Ledger, options: { lanes: number; keys: number; stop: () => boolean; prefix?: string }): Promise<void> {
  const lane = async (w: number): Promise<void> => {
    for (let s = 0; !options.stop(); s++) {
      const k = `${options.prefix ?? 'k'}${w + options.lanes * (s % Math.ceil(options.keys / options.lanes))}`
      ledger.take({ t: 'I', k, w, s })
      try {
        await cache.set(k, { w, s })
        ledger.take({ t: 'A', k, w, s, v: tier.versions.get(k) })
      } catch (error) {
        if (error instanceof ReplicationNotConfirmedError) ledger.take({ t: 'N', k, w, s, v: error.version })
        else ledger.take({ t: 'E', k, w, s, c: (error as { code?: string }).code ?? String(error) })
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    }
  }
  await Promise.all(Array.from({ length: options.lanes }, (_, w) => lane(w)))
}

interface KeyLedger {
  /** `w:s` of every write tried (printed before it was sent). */
  readonly tried: Set<string>
  /** `w:s` → version, of every acknowledged write. */
  readonly acked: Map<string, number>
  /** `w:s` → version, of writes applied but not confirmed by the replicas. */
  readonly unconfirmed: Map<string, number>
}

export class Ledger {
  readonly keys = new Map<string, KeyLedger>()
  readonly errors = new Map<string, number>()
  readonly crashes: string[] = []
  acks = 0

  take(line: FaultLine): void {
    let entry = this.keys.get(line.k)
    if (entry === undefined) this.keys.set(line.k, (entry = { tried: new Set(), acked: new Map(), unconfirmed: new Map() }))
    const id = `${line.w}:${line.s}`
    if (line.t === 'I') entry.tried.add(id)
    else if (line.t === 'A') {
      entry.acked.set(id, line.v as number)
      this.acks++
    } else if (line.t === 'N') entry.unconfirmed.set(id, line.v as number)
    else this.errors.set(line.c ?? '?', (this.errors.get(line.c ?? '?') ?? 0) + 1)
  }

  /** The highest acknowledged version of `key` (0 if none). */
  highestAcked(key: string): number {
    return Math.max(0, ...(this.keys.get(key)?.acked.values() ?? []))
  }
}

/** A row of the store's table. */
export type Row = StoredRow

/**
 * What is wrong with the end state: for each key written, the store must hold a write that was
 * tried (an acknowledged one at the version acknowledged), at a version at least the highest
 * acknowledged one and equal to Redis's (when Redis still holds the key).
 */
export function checkLedger(ledger: Ledger, rows: ReadonlyMap<string, Row>, redis: ReadonlyMap<string, { encoded: string | null; version: number }>): string[] {
  const problems: string[] = []
  for (const [key, entry] of ledger.keys) {
    const row = rows.get(key)
    const highest = ledger.highestAcked(key)
    if (row === undefined) {
      if (highest > 0) problems.push(`${key}: acknowledged at ${highest}, missing from the store`)
      continue
    }
    const { w, s } = row.value as { w: number; s: number }
    const id = `${w}:${s}`
    if (!entry.tried.has(id)) problems.push(`${key}: the store holds ${id}, which no writer tried`)
    const ackedAt = entry.acked.get(id)
    if (ackedAt !== undefined && ackedAt !== row.version) problems.push(`${key}: ${id} was acknowledged at ${ackedAt}, the store holds it at ${row.version}`)
    if (row.version < highest) problems.push(`${key}: the store holds version ${row.version}, below the acknowledged ${highest} (a lost write)`)
    const cached = redis.get(key)
    if (cached !== undefined && cached.version !== row.version) problems.push(`${key}: Redis holds version ${cached.version}, the store ${row.version}`)
    if (cached !== undefined && cached.encoded !== null && !isDeepStrictEqual(JSON.parse(cached.encoded), row.value)) problems.push(`${key}: Redis and the store hold other values`)
  }
  return problems
}

/** The audited store table (test/helpers/audited-table.ts), under the names the fault tests use. */
export { createAuditedTable as auditedTable, dropAuditedTable as dropTable, storeRows } from '../helpers/audited-table.js'

/** Updates of the audited `table` that lowered a row's version (none expected). */
export async function versionsDown(pool: pg.Pool, table: string): Promise<AuditRow[]> {
  return (await auditRows(pool, table)).filter((row) => row.newVersion < row.oldVersion)
}

/** Every entry of `keys` in Redis, and the dirty keys across the tier's shards. */
export async function redisState(admin: Redis, tier: RedisTier, keys: readonly string[]): Promise<{ entries: Map<string, { encoded: string | null; version: number }>; dirty: number }> {
  const entries = new Map<string, { encoded: string | null; version: number }>()
  for (const [i, entry] of (await tier.read(keys)).entries()) if (entry !== undefined) entries.set(keys[i] as string, entry)
  let dirty = 0
  for (let s = 0; s < tier.layout.shards; s++) dirty += await admin.zcard(tier.layout.dirty(s))
  return { entries, dirty }
}

/** Samples the store's versions every `everyMs` while it runs; `drops` lists every row seen going down. */
export class VersionWatch {
  readonly drops: string[] = []
  samples = 0
  private readonly seen = new Map<string, number>()
  private timer: ReturnType<typeof setTimeout> | undefined
  private stopped = false
  private last: Promise<void> = Promise.resolve()

  constructor(
    private readonly pool: pg.Pool,
    private readonly table: string,
    private readonly everyMs = 100,
  ) {}

  start(): void {
    const tick = (): void => {
      if (this.stopped) return
      this.last = this.sample().finally(() => (this.timer = setTimeout(tick, this.everyMs)))
    }
    tick()
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.last
    await this.sample()
  }

  private async sample(): Promise<void> {
    const { rows } = await this.pool.query<{ key: string; version: string }>(`SELECT key, version FROM ${this.table}`).catch(() => ({ rows: [] }))
    for (const { key, version } of rows) {
      const before = this.seen.get(key) ?? 0
      if (Number(version) < before) this.drops.push(`${key}: ${before} → ${version}`)
      this.seen.set(key, Math.max(before, Number(version)))
    }
    this.samples++
  }
}
