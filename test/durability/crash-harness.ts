/**
 * Crash trials, shared by crash-recovery.test.ts and scripts/crash-loop.ts. A trial is a chain of
 * child runs on one log dir and database: each child recovers what the previous one left, writes
 * for a random time after it says it is ready, and is killed with SIGKILL. After every kill the
 * crashed state is copied and checked (crash-check.ts), and the chain goes on from the original.
 *
 * Everything random comes from the trial's seed (the kill delays too), so a failing seed can be
 * run again; the exact kill point still depends on timing.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { seededRandom } from '../helpers/seeded-random.js'
import { AckBook, checkRecovery, copyCrashed, type CheckResult } from './crash-check.js'
import type { ChildConfig, ChildMessage, CrashDurability } from './crash-protocol.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url))
const READY_TIMEOUT_MS = 20_000

export interface TrialOptions {
  readonly seed: number
  readonly durability: CrashDurability
  /** Children killed in a row on the same dir. */
  readonly kills: number
  /** Kill delay after the child is ready: uniform in [min, max] ms. @default [100, 600] */
  readonly delayMs?: readonly [number, number]
  /** Called after each kill's check. */
  readonly onKill?: (result: KillResult) => void
}

export interface KillResult {
  readonly seed: number
  readonly run: number
  readonly durability: CrashDurability
  /** The child's cache settings, in short. */
  readonly setup: string
  readonly delayMs: number
  /** Writes the child reported as acknowledged in this run. */
  readonly acked: number
  readonly recoveredKeys: number
  readonly recoveredRecords: number
  readonly liveRows: number
  readonly failures: string[]
}

/** Runs one trial; keeps its temp dir (and says where) when a kill found a failure. */
export async function runTrial(options: TrialOptions): Promise<KillResult[]> {
  const random = seededRandom(options.seed)
  const [min, max] = options.delayMs ?? [100, 600]
  const work = mkdtempSync(join(tmpdir(), `wb-crash-${options.seed}-`))
  const base = childConfig(work, options, random)
  const book = new AckBook()
  const results: KillResult[] = []
  for (let run = 1; run <= options.kills; run++) {
    const delayMs = Math.round(min + random() * (max - min))
    const result = await killAndCheck(options, { ...base, run }, delayMs, book, work)
    results.push(result)
    options.onKill?.(result)
  }
  if (results.every((r) => r.failures.length === 0)) rmSync(work, { recursive: true, force: true })
  return results
}

/** One kill of a chain: run the child, kill it, check a copy of what it left. */
async function killAndCheck(options: TrialOptions, config: ChildConfig, delayMs: number, book: AckBook, work: string): Promise<KillResult> {
  const before = book.total
  const failures = await runChild(config, delayMs, book)
  const copy = copyCrashed(config.dir, config.db, join(work, `check-${config.run}`))
  const check = await checkRecovery(copy.dir, copy.db, config.durability, config.keys, book).catch(failedCheck)
  failures.push(...check.failures)
  if (failures.length > 0) failures.push(`(crashed state kept in ${work}; the copy checked is ${copy.dir})`)
  else rmSync(join(work, `check-${config.run}`), { recursive: true, force: true })
  const { recoveredKeys, recoveredRecords, liveRows } = check
  const { seed, durability } = options
  return { seed, run: config.run, durability, setup: describeSetup(config), delayMs, acked: book.total - before, recoveredKeys, recoveredRecords, liveRows, failures }
}

/** One line for a kill's result. */
export function describeKill(r: KillResult): string {
  const status = r.failures.length === 0 ? 'ok' : `FAILED (${r.failures.length})`
  return `seed ${r.seed} run ${r.run} ${r.durability} (${r.setup}): killed after ${r.delayMs} ms, ${r.acked} acked writes, recovered ${r.recoveredKeys} keys (${r.recoveredRecords} records), ${r.liveRows} live rows: ${status}`
}

/** A check that threw (recovery refused the dir, a write after recovery failed) is a failure too. */
function failedCheck(error: unknown): CheckResult {
  const reason = error instanceof Error ? (error.stack ?? error.message) : String(error)
  return { failures: [`the recovery check threw: ${reason}`], recoveredKeys: 0, recoveredRecords: 0, liveRows: 0 }
}

function describeSetup(c: ChildConfig): string {
  const mode = c.coalesce ? 'coalescing' : 'ordered'
  return `${c.keys} keys, ${c.segmentBytes >> 10} KiB segments, flush every ${c.flushIntervalMs} ms, batches ${c.batchSize} x${c.concurrency}, ${mode}`
}

function childConfig(work: string, options: TrialOptions, random: () => number): ChildConfig {
  const pick = <T>(choices: readonly T[]): T => choices[Math.floor(random() * choices.length)] as T
  return {
    dir: join(work, 'log'),
    db: join(work, 'store.db'),
    durability: options.durability,
    seed: options.seed,
    run: 1,
    writers: 8,
    keys: pick([64, 256, 1024]),
    segmentBytes: pick([16 * 1024, 64 * 1024]),
    flushIntervalMs: pick([2, 10, 30]),
    batchSize: pick([20, 100, 500]),
    concurrency: pick([1, 2, 4]),
    coalesce: random() < 0.75,
  }
}

/**
 * Spawns the child, kills it `delayMs` after it is ready, and records its reports in `book`.
 * Resolves, once the child is gone and its last messages are read, with what went wrong.
 */
function runChild(config: ChildConfig, delayMs: number, book: AckBook): Promise<string[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(config)], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  })
  const run = { failures: [] as string[], stderr: '', killed: false }
  child.stderr?.on('data', (chunk: Buffer) => (run.stderr += chunk.toString()))
  const kill = (): void => {
    run.killed = true
    child.kill('SIGKILL')
  }
  const notReady = setTimeout(() => {
    run.failures.push(`the child was not ready within ${READY_TIMEOUT_MS} ms`)
    kill()
  }, READY_TIMEOUT_MS)
  child.on('message', (message: ChildMessage) => {
    if (message.t === 'ready') {
      clearTimeout(notReady)
      setTimeout(kill, delayMs)
    } else record(message, book, run.failures)
  })
  const disconnected = new Promise<void>((resolve) => child.once('disconnect', resolve))
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(notReady)
      if (!run.killed || signal !== 'SIGKILL') run.failures.push(`the child exited by itself (code ${code}, signal ${signal}): ${run.stderr.slice(-2000)}`)
      // Every message the child got into the pipe before it died is delivered before 'disconnect'.
      void disconnected.then(() => resolve(run.failures))
    })
  })
}

function record(message: Exclude<ChildMessage, { t: 'ready' }>, book: AckBook, failures: string[]): void {
  if (message.t === 'acks') for (const ack of message.a) book.ack(ack)
  else if (message.t === 'intents') for (const intent of message.d) book.intent(intent)
  else failures.push(`the child failed: ${message.message}`)
}
