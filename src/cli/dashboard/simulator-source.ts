/**
 * The simulator as a dashboard source: its state and samples as events, and three actions:
 *
 *   POST /api/run      { settings?, plan? }   start a run (queued behind one going)
 *   POST /api/compare  { settings?, plan? }   the same workload and crash at memory, log, disk
 *   POST /api/fault    { fault }              kill | power | stop | store-down | store-slow | poison
 *
 * `plan` ({ crash: 'kill' | 'power', afterMs }) makes the run crash itself; compare defaults to a
 * kill after 3 s.
 */
import { checkNumber, invalid, oneOf } from '../../validate/check.js'
import { DEFAULT_SIM_SETTINGS, parseSettings } from '../sim/settings.js'
import type { CrashPlan, Injectable, Simulator } from '../sim/simulator.js'
import type { DashboardSource } from './source.js'

const FAULTS: readonly Injectable[] = ['kill', 'power', 'stop', 'store-down', 'store-slow', 'poison']
const DEFAULT_PLAN: CrashPlan = { crash: 'kill', afterMs: 3000 }

export function simulatorSource(simulator: Simulator): DashboardSource {
  const snapshot = (): unknown => ({ mode: 'simulator', defaults: DEFAULT_SIM_SETTINGS, ...simulator.state() })
  return {
    snapshot,
    subscribe: (listener) =>
      simulator.subscribe((event) => {
        if (event.type === 'sample') listener('sample', { run: event.run, acked: event.acked, sample: event.sample })
        else listener('state', { mode: 'simulator', defaults: DEFAULT_SIM_SETTINGS, ...event.state })
      }),
    action: (name, body) => {
      const input = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
      if (name === 'run' || name === 'compare') {
        const settings = parseSettings(input.settings)
        const plan = parsePlan(input.plan) ?? (name === 'compare' ? DEFAULT_PLAN : undefined)
        if (name === 'compare') simulator.compare(settings, plan ?? DEFAULT_PLAN)
        else simulator.start(settings, plan)
        return Promise.resolve(snapshot())
      }
      if (name === 'fault') {
        const fault = oneOf(input.fault, 'fault', FAULTS)
        if (fault === undefined) throw invalid('fault', `one of ${FAULTS.join(', ')}`, undefined)
        if (!simulator.inject(fault)) throw new Error('no run is writing now: start one first')
        return Promise.resolve(snapshot())
      }
      return undefined
    },
  }
}

function parsePlan(value: unknown): CrashPlan | undefined {
  if (value === undefined || value === null) return undefined
  const plan = value as Record<string, unknown>
  const crash = oneOf(plan.crash, 'plan.crash', ['kill', 'power'] as const) ?? 'kill'
  const afterMs = checkNumber(plan.afterMs, 'plan.afterMs', { min: 100, integer: true, required: true })
  return { crash, afterMs }
}
