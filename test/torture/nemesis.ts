/**
 * The nemesis: one fault at a time, each bounded in time (it heals before the next one starts),
 * chosen with the run's seeded RNG from the faults of its tier (each of them once first, in a
 * seeded order; then at random), with a quiet gap between them. The
 * schedule is reproducible from the seed; the exact moments still depend on timing.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { OwnServer } from '../helpers/own-servers.js'
import { seededRandom } from '../helpers/seeded-random.js'
import type { Apps } from './apps.js'
import type { FaultName } from './checker.js'
import type { TortureTier } from './protocol.js'

/** The faults each tier is put through. */
export const FAULTS: Readonly<Record<'embedded' | 'redis', readonly FaultName[]>> = {
  embedded: ['kill-app', 'power-cut', 'pause-app', 'stop-store'],
  redis: ['kill-app', 'pause-app', 'kill-flusher', 'pause-flusher', 'kill-primary', 'failover', 'lagging-failover', 'kill-replica', 'pause-replica', 'stop-store'],
}

/** One fault as injected. */
export interface Injected {
  readonly fault: FaultName
  /** Milliseconds since the run started, and how long the fault lasted until healed. */
  readonly atMs: number
  readonly ms: number
  /** Which app, for the app faults. */
  readonly target?: number
}

/** The Redis faults, on standalone Redis (redis-pair.ts) or a Cluster (redis-cluster.ts). */
export interface RedisFaults {
  killPrimary(downMs: number): Promise<void>
  failover(): Promise<void>
  laggingFailover(lagMs: number): Promise<void>
  killReplica(downMs: number): Promise<void>
  pauseReplica(forMs: number): Promise<void>
  heal(): Promise<void>
}

export interface Targets {
  readonly apps: Apps
  readonly store: OwnServer
  readonly redis: RedisFaults | undefined
}

/** How long a fault lasts, and the quiet between two (ms). */
const FAULT_MS: readonly [number, number] = [500, 3000]
const GAP_MS: readonly [number, number] = [300, 1500]

export class Nemesis {
  private readonly random: () => number
  private readonly menu: readonly FaultName[]
  /** Every fault of the menu once, in a seeded order, before the random picks. */
  private readonly first: FaultName[]

  constructor(
    tier: TortureTier,
    seed: number,
    private readonly targets: Targets,
    private readonly log: (line: string) => void = () => {},
    /** The faults to choose from. @default FAULTS of the tier */
    menu?: readonly FaultName[],
  ) {
    this.random = seededRandom(seed ^ 0x0e5e)
    this.menu = menu ?? FAULTS[tier === 'embedded' ? 'embedded' : 'redis']
    this.first = [...this.menu]
    for (let i = this.first.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1))
      ;[this.first[i], this.first[j]] = [this.first[j] as FaultName, this.first[i] as FaultName]
    }
  }

  /** Injects faults until `durationMs` has passed; resolves with what it injected, once the last one healed. */
  async run(durationMs: number): Promise<Injected[]> {
    const started = Date.now()
    const injected: Injected[] = []
    while (Date.now() - started < durationMs) {
      await sleep(this.between(GAP_MS))
      const fault = this.first.shift() ?? this.anyFault()
      const ms = this.between(FAULT_MS)
      const at = Date.now()
      this.log(`${((at - started) / 1000).toFixed(1)}s ${fault} for ${ms} ms…`)
      const target = await this.inject(fault, ms)
      injected.push({ fault, atMs: at - started, ms: Date.now() - at, ...(target === undefined ? {} : { target }) })
      this.log(`${((at - started) / 1000).toFixed(1)}s ${fault}${target === undefined ? '' : ` #${target}`} ${Date.now() - at} ms`)
    }
    return injected
  }

  private async inject(fault: FaultName, ms: number): Promise<number | undefined> {
    const { apps, store, redis } = this.targets
    const writer = this.pick(apps.ids('writer'))
    const flusher = this.pick(apps.ids('flusher'))
    switch (fault) {
      case 'kill-app':
        await apps.kill(writer, ms)
        return writer
      case 'power-cut':
        await apps.kill(writer, ms, true)
        return writer
      case 'pause-app':
        await apps.pause(writer, ms)
        return writer
      case 'kill-flusher':
        await apps.kill(flusher, ms)
        return flusher
      case 'pause-flusher':
        await apps.pause(flusher, ms)
        return flusher
      case 'stop-store':
        await store.crash()
        await sleep(ms)
        await store.start()
        return undefined
      case 'kill-primary':
        await this.redis(redis).killPrimary(ms)
        return undefined
      case 'failover':
        await this.redis(redis).failover()
        return undefined
      case 'lagging-failover':
        await this.redis(redis).laggingFailover(ms)
        return undefined
      case 'kill-replica':
        await this.redis(redis).killReplica(ms)
        return undefined
      case 'pause-replica':
        await this.redis(redis).pauseReplica(ms)
        return undefined
    }
  }

  private anyFault(): FaultName {
    const fault = this.menu[Math.floor(this.random() * this.menu.length)]
    if (fault === undefined) throw new Error('the nemesis has no faults to choose from')
    return fault
  }

  private redis(pair: RedisFaults | undefined): RedisFaults {
    if (pair === undefined) throw new Error('a Redis fault on a run without Redis')
    return pair
  }

  private pick(ids: readonly number[]): number {
    return ids[Math.floor(this.random() * ids.length)] ?? -1
  }

  private between([min, max]: readonly [number, number]): number {
    return Math.round(min + this.random() * (max - min))
  }
}
