/**
 * Dirty-log micro-benchmark: `npx tsx bench/log.bench.ts [--quick]`.
 *
 * Measures, in one run and on the same temp dir, each durability level's log path beside the raw
 * limit of the machine, and prints ratios (never a lone absolute time):
 *   memory  — bare JSON.stringify + Buffer copy + Map.set loop (what `memory` costs at best)
 *   log     — append + await written(): one sequential writer; 256 concurrent writers;
 *             vs a bare fs.writeSync loop writing the same record bytes one record per call
 *   disk    — append + await synced(): one sequential writer; 256 concurrent writers;
 *             vs a bare writeSync + fdatasyncSync loop (and its async-fdatasync form)
 *   replay  — DirtyLog.open() of a 1M-record log vs the bare JSON/Map loop over as many records
 * `log` and `disk` run with both write schedulings (microtask, setImmediate) to pick the default.
 *
 * Caveats: a VM's fsync cost depends on its virtual disk cache; other processes on the box add
 * noise (run it twice); records are ~70 bytes (a short key and a small JSON value), the case
 * where per-record overhead dominates. Targets from the issue: log ≥ 700k/s one writer; disk ≥
 * 250k/s with 256 writers and ≥ 80% of the raw fsync rate with one; replay ≥ 1M records/s.
 */
import { closeSync, fdatasync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DirtyLog } from '../src/log/dirty-log.js'
import { encodeRecord, maxEncodedBytes } from '../src/log/record.js'
import type { DirtyLogOptions, LogRecord } from '../src/log/types.js'

const quick = process.argv.includes('--quick')
/** Every measurement runs once per round, round-robin, and rows sum their rounds: drifting load on the box then weighs on every row alike. */
const ROUNDS = quick ? 2 : 4
const N_LOG = quick ? 25_000 : 100_000
const N_SYNC_SEQ = quick ? 250 : 1_000
const N_SYNC_CONC = quick ? 25_000 : 100_000
const N_REPLAY = quick ? 100_000 : 1_000_000
const WRITERS = 256
const KEYS = Array.from({ length: 10_000 }, (_, i) => `user:${i}`)
const VALUE = JSON.stringify({ score: 9001, name: 'player-42', ok: true })
const root = mkdtempSync(join(tmpdir(), 'wb-log-bench-'))
let dirs = 0

interface Row {
  level: string
  name: string
  records: number
  seconds: number
  /** CPU time of this process (user + system) during the measurement: less sensitive to other load than wall time. */
  cpuSeconds?: number
  note?: string
}

const rows: Row[] = []

/** Adds a measurement to its row (same name), or starts the row. */
function add(row: Row): void {
  const existing = rows.find((r) => r.name === row.name)
  if (existing === undefined) rows.push(row)
  else {
    existing.records += row.records
    existing.seconds += row.seconds
    existing.cpuSeconds = (existing.cpuSeconds ?? 0) + (row.cpuSeconds ?? 0)
  }
}
const rate = (row: Row) => row.records / row.seconds

function record(version: number): LogRecord {
  return { kind: 'set', key: KEYS[version % KEYS.length]!, version, encoded: VALUE }
}

let lastCpuSeconds = 0

/** Wall seconds of `fn`; its CPU seconds are left in `lastCpuSeconds`. */
async function time(fn: () => Promise<void> | void): Promise<number> {
  const cpu = process.cpuUsage()
  const start = performance.now()
  await fn()
  const wall = (performance.now() - start) / 1000
  const used = process.cpuUsage(cpu)
  lastCpuSeconds = (used.user + used.system) / 1e6
  return wall
}

function timed(level: string, name: string, records: number, seconds: number, note?: string): Row {
  return { level, name, records, seconds, cpuSeconds: lastCpuSeconds, note }
}

async function openLog(options: Partial<DirtyLogOptions> = {}) {
  return (await DirtyLog.open({ dir: join(root, `log-${dirs++}`), ...options })).log
}

/** append + await `wait` from one writer. */
async function sequential(log: DirtyLog, n: number, wait: 'written' | 'synced'): Promise<void> {
  for (let v = 1; v <= n; v++) {
    log.append(record(v))
    await (wait === 'written' ? log.written() : log.synced())
  }
}

/** append + await `wait` from `writers` concurrent async writers, n records in all. */
async function concurrent(log: DirtyLog, n: number, wait: 'written' | 'synced', writers: number): Promise<void> {
  let version = 0
  const writer = async () => {
    while (version < n) {
      log.append(record(++version))
      await (wait === 'written' ? log.written() : log.synced())
    }
  }
  await Promise.all(Array.from({ length: writers }, writer))
}

async function measureLog(level: 'log' | 'disk', name: string, n: number, run: (log: DirtyLog) => Promise<void>, scheduling: 'microtask' | 'immediate') {
  const log = await openLog({ writeScheduling: scheduling })
  await log.synced()
  const seconds = await time(() => run(log))
  const stats = log.stats()
  await log.close()
  const per = level === 'log' ? `${(n / stats.writes).toFixed(1)} rec/write` : `${(n / Math.max(1, stats.fsyncs)).toFixed(1)} rec/fsync`
  add(timed(level, `${name} [${scheduling}]`, n, seconds, per))
}

function encodedRecordBytes(): Buffer {
  const r = record(1)
  const buf = Buffer.alloc(maxEncodedBytes(r))
  return buf.subarray(0, encodeRecord(buf, 0, r))
}

async function rawLimits(): Promise<void> {
  const bytes = encodedRecordBytes()
  const path = join(root, 'raw')
  const fd = openSync(path, 'w', 0o600)
  const writeLoop = () => {
    for (let i = 0; i < N_LOG; i++) writeSync(fd, bytes)
  }
  add(timed('log', 'RAW fs.writeSync loop (1 record/call)', N_LOG, await time(writeLoop)))
  const syncLoop = () => {
    for (let i = 0; i < N_SYNC_SEQ; i++) {
      writeSync(fd, bytes)
      fdatasyncSync(fd)
    }
  }
  add(timed('disk', 'RAW writeSync + fdatasyncSync loop', N_SYNC_SEQ, await time(syncLoop)))
  const asyncSync = (): Promise<void> => new Promise((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())))
  const asyncSyncLoop = async () => {
    for (let i = 0; i < N_SYNC_SEQ; i++) {
      writeSync(fd, bytes)
      await asyncSync()
    }
  }
  add(timed('disk', 'RAW writeSync + async fdatasync loop', N_SYNC_SEQ, await time(asyncSyncLoop)))
  closeSync(fd)
  add(timed('memory', 'RAW JSON.stringify + Buffer copy + Map.set', N_REPLAY, await time(() => memoryLoop(N_REPLAY))))
}

function memoryLoop(n: number): void {
  const map = new Map<string, string>()
  const buf = Buffer.allocUnsafe(1 << 16)
  const value = { score: 9001, name: 'player-42', ok: true }
  for (let i = 0; i < n; i++) {
    const text = JSON.stringify(value)
    buf.write(text, (i * 64) & 0x7fff)
    map.set(KEYS[i % KEYS.length]!, text)
  }
}

/** Builds the log that `replay` opens, once. */
async function buildReplayLog(): Promise<string> {
  const dir = join(root, 'replay')
  const { log } = await DirtyLog.open({ dir })
  for (let v = 1; v <= N_REPLAY; v++) log.append(record(v))
  await log.close()
  return dir
}

async function replay(dir: string): Promise<void> {
  let count = 0
  const seconds = await time(async () => {
    const { log: again, recovered } = await DirtyLog.open({ dir })
    count = recovered.records.length
    await again.close()
  })
  if (count !== N_REPLAY) throw new Error(`replayed ${count} of ${N_REPLAY}`)
  add(timed('replay', 'DirtyLog.open() replay', count, seconds, 'open: lock, scan, fsync, new segment'))
}

function report(): void {
  const raw = (name: string) => rows.find((r) => r.name.startsWith(name))
  const baseline: Record<string, Row | undefined> = {
    log: raw('RAW fs.writeSync'),
    disk: raw('RAW writeSync + fdatasyncSync'),
    replay: raw('RAW JSON.stringify'),
    memory: undefined,
  }
  console.log(`\nnode ${process.version}, ${quick ? 'quick' : 'full'} run, ${ROUNDS} rounds, records ≈ ${encodedRecordBytes().length} bytes each\n`)
  console.log('| level | measurement | records | records/s | vs raw | CPU µs/record | note |')
  console.log('|---|---|---:|---:|---:|---:|---|')
  for (const row of rows) {
    const base = baseline[row.level]
    const ratio = base === undefined || base === row ? '' : `${((rate(row) / rate(base)) * 100).toFixed(0)}%`
    const cpu = row.cpuSeconds === undefined ? '' : ((row.cpuSeconds / row.records) * 1e6).toFixed(2)
    console.log(`| ${row.level} | ${row.name} | ${row.records} | ${Math.round(rate(row)).toLocaleString('en-US')} | ${ratio} | ${cpu} | ${row.note ?? ''} |`)
  }
}

async function main(): Promise<void> {
  try {
    await measureLog('log', 'warm-up', 20_000, (log) => sequential(log, 20_000, 'written'), 'microtask')
    rows.length = 0
    const replayDir = await buildReplayLog()
    for (let round = 0; round < ROUNDS; round++) {
      await rawLimits()
      for (const scheduling of ['microtask', 'immediate'] as const) {
        await measureLog('log', 'append+written, 1 writer', N_LOG, (log) => sequential(log, N_LOG, 'written'), scheduling)
        await measureLog('log', `append+written, ${WRITERS} writers`, N_LOG, (log) => concurrent(log, N_LOG, 'written', WRITERS), scheduling)
        await measureLog('disk', 'append+synced, 1 writer', N_SYNC_SEQ, (log) => sequential(log, N_SYNC_SEQ, 'synced'), scheduling)
        await measureLog('disk', `append+synced, ${WRITERS} writers`, N_SYNC_CONC, (log) => concurrent(log, N_SYNC_CONC, 'synced', WRITERS), scheduling)
      }
      await replay(replayDir)
    }
    report()
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

await main()
