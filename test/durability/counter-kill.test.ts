// Counters under a real kill -9 (issue 13: "the stored counter equals the sum of acknowledged
// increments, exactly, after any number of crashes and retries"). A child process increments a few
// hot counters through a cache with a dirty log and a SQLite store, with 8 concurrent writers and
// fast flushing, and reports every acknowledged increment; the parent kills it with SIGKILL at a
// random instant, several times in a row on the same dir and database (each child recovers what
// the previous one left). After every kill a copy of the crashed dir and database is recovered by a
// fresh cache and flushed, and each stored counter must equal what was acknowledged plus exactly
// some of the increments still in flight at the kill (writer w adds 2^w and has at most one such
// increment, so which ones landed is read off the sum): an increment lost or added twice fails.
//
// At `log` and `disk` this is asserted; at `memory` (acknowledged before the log has it) the
// increments lost are only counted and printed.
//
// The store is SqliteStore, and PostgresStore on the shared server (the crashed table is copied
// into a check table, as the SQLite file is copied: recovering the same log twice into one table,
// once from a copy of the dir, is two processes on one dir, which the dir lock exists to prevent).
// `WB_COUNTER_STORE=rmw` runs the SQLite part on a
// test-only read-modify-write store (sqlite-rmw-store.ts) instead. Seeds are random and printed;
// rerun one with WB_COUNTER_SEED.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { WriteBehindCache } from '../../src/index.js'
import { seededRandom } from '../helpers/seeded-random.js'
import { copyCrashed, readRows } from './crash-check.js'
import { uniqueName } from '../helpers/store-servers.js'
import { copyPgTable, counterKey, counterPicker, dropPgTable, openCounterStore, readPgCounters, type CounterChildConfig, type CounterDurability, type CounterMessage } from './counter-protocol.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const CHILD = fileURLToPath(new URL('./counter-child.ts', import.meta.url))
const SQLITE_STORE = process.env.WB_COUNTER_STORE === 'rmw' ? 'rmw' : 'sqlite'
type StoreKind = CounterChildConfig['store']
const BASE_SEED = Number(process.env.WB_COUNTER_SEED ?? Math.floor(Math.random() * 1_000_000))
const TRIALS = 2
const KILLS = 4
const WRITERS = 8
const COUNTERS = 3

interface Kill {
  readonly run: number
  readonly delayMs: number
  readonly acked: number
  /** Per counter: stored minus expected, before the in-flight increments that landed are taken in. */
  readonly delta: number[]
  readonly failures: string[]
}

/** One chain of kills on one dir; returns each kill's check. */
async function runChain(store: StoreKind, durability: CounterDurability, seed: number): Promise<Kill[]> {
  const random = seededRandom(seed)
  const work = mkdtempSync(join(tmpdir(), `wb-counter-${seed}-`))
  const db = store === 'postgres' ? uniqueName('wb_counter_kill') : join(work, 'store.db')
  const base = { dir: join(work, 'log'), db, store, durability, seed, writers: WRITERS, counters: COUNTERS } as const
  const expected = Array.from({ length: COUNTERS }, () => 0)
  const kills: Kill[] = []
  for (let run = 1; run <= KILLS; run++) {
    const config: CounterChildConfig = { ...base, run, flushIntervalMs: [2, 10, 30][Math.floor(random() * 3)] as number, coalesce: random() < 0.8 }
    const delayMs = Math.round(100 + random() * 500)
    const { acks, failures } = await runChild(config, delayMs)
    // What the parent heard of, and where each writer's one unheard-of increment went.
    const inFlight = Array.from({ length: COUNTERS }, () => 0)
    let acked = 0
    for (let w = 0; w < WRITERS; w++) {
      const pick = counterPicker(seed, run, w, COUNTERS)
      const last = acks.get(w) ?? 0
      for (let n = 1; n <= last; n++) expected[pick()]! += 2 ** w
      inFlight[pick()]! |= 2 ** w
      acked += last
    }
    const copy =
      store === 'postgres' ? { dir: copyCrashed(base.dir, join(work, 'no-db'), join(work, `check-${run}`)).dir, db: `${db}_check${run}` } : copyCrashed(base.dir, base.db, join(work, `check-${run}`))
    if (store === 'postgres') await copyPgTable(db, copy.db)
    const stored = await recoverAndRead(store, copy.dir, copy.db, durability)
    const delta = stored.map((s, k) => s - (expected[k] as number))
    delta.forEach((d, k) => {
      const landed = d >= 0 && (d & ~(inFlight[k] as number)) === 0
      if (!landed && durability !== 'memory') {
        failures.push(
          `${counterKey(k)}: stored ${stored[k]}, acknowledged ${expected[k]}, in flight at the kill ${bits(inFlight[k] as number)}: ${d < 0 ? `${-d} LOST` : `${d} is not a sum of those (DOUBLED?)`}`,
        )
      }
      expected[k] = stored[k] as number // what landed is in the log and the store for every later run
    })
    if (failures.length === 0) rmSync(join(work, `check-${run}`), { recursive: true, force: true })
    kills.push({ run, delayMs, acked, delta, failures })
  }
  if (kills.every((k) => k.failures.length === 0)) {
    rmSync(work, { recursive: true, force: true })
    if (store === 'postgres') for (const table of [db, ...kills.map((k) => `${db}_check${k.run}`)]) await dropPgTable(table)
  } else kills.at(-1)?.failures.push(`(crashed states kept in ${work}${store === 'postgres' ? `, table ${db}` : ''})`)
  return kills
}

/** A fresh cache recovers the copy and flushes; the counters as stored. */
async function recoverAndRead(store: StoreKind, dir: string, db: string, durability: CounterDurability): Promise<number[]> {
  const cache = await WriteBehindCache.open({ store: openCounterStore(store, db), dir, durability: durability === 'memory' ? 'log' : durability, warn: () => {} })
  await cache.flush()
  await cache.close()
  if (store === 'postgres')
    return readPgCounters(
      db,
      Array.from({ length: COUNTERS }, (_, k) => counterKey(k)),
    )
  const rows = readRows(db)
  return Array.from({ length: COUNTERS }, (_, k) => {
    const row = rows.get(counterKey(k))
    return row === undefined || row.deleted ? 0 : (JSON.parse(row.value ?? '0') as number)
  })
}

/** Spawns the child, kills it `delayMs` after it is ready; the last acknowledged increment per writer. */
function runChild(config: CounterChildConfig, delayMs: number): Promise<{ acks: Map<number, number>; failures: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(config)], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  })
  const acks = new Map<number, number>()
  const failures: string[] = []
  let stderr = ''
  let killed = false
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const kill = (): void => {
    killed = true
    child.kill('SIGKILL')
  }
  const notReady = setTimeout(() => {
    failures.push('the child was not ready within 20 s')
    kill()
  }, 20_000)
  child.on('message', (message: CounterMessage) => {
    if (message.t === 'ready') {
      clearTimeout(notReady)
      setTimeout(kill, delayMs)
    } else if (message.t === 'ack') acks.set(message.w, Math.max(message.n, acks.get(message.w) ?? 0))
    else failures.push(`the child failed: ${message.message}`)
  })
  const disconnected = new Promise<void>((resolve) => child.once('disconnect', resolve))
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(notReady)
      if (!killed || signal !== 'SIGKILL') failures.push(`the child exited by itself (code ${code}, signal ${signal}): ${stderr.slice(-2000)}`)
      void disconnected.then(() => resolve({ acks, failures }))
    })
  })
}

function bits(mask: number): string {
  const parts: number[] = []
  for (let w = 0; w < WRITERS; w++) if ((mask & (2 ** w)) !== 0) parts.push(2 ** w)
  return parts.length === 0 ? 'none' : parts.join(' + ')
}

function describeKill(store: StoreKind, durability: string, seed: number, k: Kill): string {
  const status = k.failures.length === 0 ? 'ok' : `FAILED (${k.failures.length})`
  return `${store} ${durability} seed ${seed} run ${k.run}: killed after ${k.delayMs} ms, ${k.acked} increments acknowledged, stored minus acknowledged per counter [${k.delta.join(', ')}]: ${status}`
}

// PostgreSQL at `log` and `disk` (one trial each), beside every SQLite level.
interface Chain {
  readonly store: StoreKind
  readonly durability: CounterDurability
  readonly trials: number
}
const CHAINS: readonly Chain[] = [
  ...(['log', 'disk', 'memory'] as const).map((durability): Chain => ({ store: SQLITE_STORE, durability, trials: TRIALS })),
  ...(['log', 'disk'] as const).map((durability): Chain => ({ store: 'postgres', durability, trials: 1 })),
]

for (const { store, durability, trials } of CHAINS) {
  describe(`counters under kill -9 at durability ${durability} on ${store}`, () => {
    for (let trial = 0; trial < trials; trial++) {
      const seed = BASE_SEED + trial + { log: 0, disk: 1000, memory: 2000 }[durability] + (store === 'postgres' ? 5000 : 0)
      const claim = durability === 'memory' ? 'counts the increments lost' : 'stores exactly the acknowledged increments (plus some of those in flight)'
      it(`${claim} over ${KILLS} kills in a row (seed ${seed})`, async () => {
        const kills = await runChain(store, durability, seed)
        for (const k of kills) {
          console.log(describeKill(store, durability, seed, k))
          for (const failure of k.failures) console.log(`  ${failure}`)
        }
        assert.ok(
          kills.some((k) => k.acked > 0),
          'the children acknowledged increments before being killed',
        )
        if (durability === 'memory') {
          const short = kills.reduce((sum, k) => sum + k.delta.filter((d) => d < 0).reduce((a, d) => a - d, 0), 0)
          const killsLosing = kills.filter((k) => k.delta.some((d) => d < 0)).length
          console.log(`memory, seed ${seed}: ${killsLosing} of ${KILLS} kills lost acknowledged increments; the counters fell short of the acknowledged sums by ${short} in all`)
          for (const k of kills) assert.deepEqual(k.failures, [], describeKill(store, durability, seed, k))
          return
        }
        for (const k of kills) assert.deepEqual(k.failures, [], describeKill(store, durability, seed, k))
      })
    }
  })
}
