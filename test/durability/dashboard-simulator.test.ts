/**
 * The dashboard's failure simulator, end to end on real processes and SQLite files: the workload
 * child is SIGKILLed (or its log cut back to the last fsync, a power cut), restarted on the same
 * dir to replay and drain, and the loss it reports is checked here independently, from the ledger
 * of acknowledged writes it saved and the rows in the store. Memory loses writes, log loses none
 * to a kill but loses to a power cut, disk loses none to either. Store faults: a stopped store
 * opens the circuit and a poisoned row is dead-lettered, not counted as lost. And the same
 * count on the shared PostgreSQL server (each run in its own table, dropped at the end).
 */
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { DEFAULT_SIM_SETTINGS } from '../../src/cli/sim/settings.js'
import { Simulator, type CrashPlan } from '../../src/cli/sim/simulator.js'
import type { RunResult } from '../../src/cli/sim/run.js'
import type { SimSettings } from '../../src/cli/sim/protocol.js'
import { independentLoss } from '../helpers/sim-loss.js'
import { PG_URL } from '../helpers/store-servers.js'

const simulator = new Simulator()
after(() => simulator.close())

/** Starts a run and resolves with its result. */
function runOnce(settings: Partial<SimSettings>, plan?: CrashPlan, during?: (sim: Simulator) => Promise<void>): Promise<RunResult> {
  const before = simulator.state().results.length
  const done = new Promise<RunResult>((resolve) => {
    const off = simulator.subscribe((event) => {
      if (event.type === 'state' && event.state.results.length > before) {
        off()
        resolve(event.state.results.at(-1) as RunResult)
      }
    })
  })
  simulator.start({ ...DEFAULT_SIM_SETTINGS, ...settings }, plan)
  if (during !== undefined) {
    void (async () => {
      while (simulator.state().run?.phase !== 'writing') await sleep(20)
      await during(simulator)
    })()
  }
  return done
}

describe('the failure simulator', { timeout: 180_000 }, () => {
  const kill: CrashPlan = { crash: 'kill', afterMs: 1500 }
  const power: CrashPlan = { crash: 'power', afterMs: 1500 }

  it('memory: a kill -9 loses acknowledged writes, exactly as many as the ledger and the rows say', async () => {
    const r = await runOnce({ durability: 'memory', intervalMs: 2000 }, kill)
    assert.equal(r.error, undefined)
    assert.ok(r.acked > 0)
    assert.ok(r.lost > 0, `memory lost nothing of ${r.acked}`)
    assert.equal(r.lost, await independentLoss(r))
    assert.equal(r.recovered, 0)
    assert.equal(r.replayed, undefined)
    assert.ok(r.lossWindowMs > 0)
  })

  it('log: a kill -9 loses none; the replay recovers every write the store lacked at the crash', async () => {
    const r = await runOnce({ durability: 'log', intervalMs: 2000 }, kill)
    assert.equal(r.error, undefined)
    assert.ok(r.missingAtCrash > 0, 'the store lagged at the crash')
    assert.equal(r.lost, 0)
    assert.equal(await independentLoss(r), 0)
    assert.equal(r.recovered, r.missingAtCrash)
    assert.ok((r.replayed?.records ?? 0) > 0)
  })

  it('log: a power cut (the log cut to its last fsync) loses what the OS had not synced', async () => {
    const r = await runOnce({ durability: 'log', intervalMs: 2000 }, power)
    assert.equal(r.error, undefined)
    assert.ok(r.bytesCut > 0)
    assert.ok(r.lost > 0)
    assert.equal(r.lost, await independentLoss(r))
    assert.equal(r.promised.ms, null)
  })

  it('disk: a power cut loses none', async () => {
    const r = await runOnce({ durability: 'disk', intervalMs: 2000 }, power)
    assert.equal(r.error, undefined)
    assert.ok(r.acked > 0)
    assert.equal(r.lost, 0)
    assert.equal(await independentLoss(r), 0)
    assert.equal(r.recovered, r.missingAtCrash)
  })

  it('store faults: a stopped store opens the circuit, poisoned rows are dead-lettered apart; a stop drains the rest', async () => {
    const circuits: string[] = []
    const off = simulator.subscribe((event) => {
      if (event.type === 'sample') circuits.push(event.sample.circuit)
    })
    const r = await runOnce({ durability: 'log', intervalMs: 200, readShare: 0 }, undefined, async (sim) => {
      assert.equal(sim.inject('poison'), true)
      await sleep(800)
      sim.inject('poison')
      sim.inject('store-down')
      while (!circuits.includes('open')) await sleep(50)
      sim.inject('store-down')
      await sleep(300)
      sim.inject('stop')
    })
    off()
    assert.equal(r.error, undefined)
    assert.equal(r.crash, 'none')
    assert.deepEqual([...r.storeFaults].sort(), ['poison', 'store-down'])
    assert.ok(r.deadLetters > 0 && r.deadLettered > 0, `dead letters ${r.deadLetters}, writes ${r.deadLettered}`)
    assert.equal(r.lost, 0)
    assert.equal(await independentLoss(r), r.deadLettered, 'the writes missing from the store are exactly the dead-lettered ones')
  })
})

describe('the failure simulator on PostgreSQL', { timeout: 120_000 }, () => {
  const onPg = new Simulator({ pgUrl: PG_URL })
  after(() => onPg.close())

  function pgRun(durability: SimSettings['durability']): Promise<RunResult> {
    const done = new Promise<RunResult>((resolve) => {
      const off = onPg.subscribe((event) => {
        if (event.type === 'state' && event.state.results.length > 0 && event.state.run === undefined) {
          off()
          resolve(event.state.results.at(-1) as RunResult)
        }
      })
    })
    onPg.start({ ...DEFAULT_SIM_SETTINGS, store: 'postgres', durability, intervalMs: 2000 }, { crash: 'kill', afterMs: 1500 })
    return done
  }

  it('memory loses writes to a kill -9 and log loses none, counted in the PostgreSQL table', async () => {
    const memory = await pgRun('memory')
    assert.equal(memory.error, undefined)
    assert.ok(memory.lost > 0)
    assert.equal(memory.lost, await independentLoss(memory))
    const log = await pgRun('log')
    assert.equal(log.error, undefined)
    assert.ok(log.missingAtCrash > 0)
    assert.equal(log.lost, 0)
    assert.equal(await independentLoss(log), 0)
  })
})
