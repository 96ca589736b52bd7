/**
 * The harness's app processes (app.ts): started, killed with -9, paused and resumed, restarted
 * (a new incarnation; the embedded tier's on the same log dir), and stopped cleanly at the end.
 * Every write record they send goes into the run's History; the embedded tier's fsync marks are
 * kept for a power cut (`cutToLastFsync` after the kill).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { forkWorker, type WorkerProcess } from '../../src/cli/sim/child-process.js'
import { cutToLastFsync, type FsyncMark } from '../../src/cli/sim/power-cut.js'
import type { History } from './history.js'
import type { AppConfig, AppMessage } from './protocol.js'

const APP = fileURLToPath(new URL('./app.ts', import.meta.url))
const STOP_TIMEOUT_MS = 60_000

/** What every app shares; the role, number, incarnation and dir are per app. */
export type AppBase = Omit<AppConfig, 'role' | 'id' | 'incarnation' | 'dir'>

interface App {
  readonly id: number
  readonly role: AppConfig['role']
  readonly dir: string | undefined
  incarnation: number
  process: WorkerProcess<Extract<AppMessage, { type: 'ready' }>> | undefined
  fsync: FsyncMark | undefined
  closed: Extract<AppMessage, { type: 'closed' }> | undefined
}

export class Apps {
  private readonly apps = new Map<number, App>()
  /** Apps that did not close within STOP_TIMEOUT_MS of being asked to stop (then killed). */
  readonly stuck: string[] = []

  constructor(
    private readonly base: AppBase,
    private readonly history: History,
  ) {}

  /** Numbers of the apps with a role. */
  ids(role: AppConfig['role']): number[] {
    return [...this.apps.values()].filter((a) => a.role === role).map((a) => a.id)
  }

  async add(id: number, role: AppConfig['role'], dir: string | undefined): Promise<void> {
    const app: App = { id, role, dir, incarnation: -1, process: undefined, fsync: undefined, closed: undefined }
    this.apps.set(id, app)
    await this.launch(app)
  }

  /** SIGKILL, then (after `downMs`) a new incarnation; `powerCut` first cuts its log back to the last fsync. */
  async kill(id: number, downMs: number, powerCut = false): Promise<void> {
    const app = this.get(id)
    app.process?.kill()
    await app.process?.ended
    if (powerCut && app.dir !== undefined) cutToLastFsync(app.dir, app.fsync)
    await sleep(downMs)
    await this.launch(app)
  }

  async pause(id: number, forMs: number): Promise<void> {
    const app = this.get(id)
    app.process?.signal('SIGSTOP')
    await sleep(forMs)
    app.process?.signal('SIGCONT')
  }

  /** Asks every app to stop writing, drain and close; SIGKILLs one that does not end in time. Returns whether all drained. */
  async stopAll(): Promise<{ drained: boolean; unflushed: number }> {
    const all = [...this.apps.values()]
    for (const app of all) app.process?.send({ type: 'stop' })
    await Promise.all(
      all.map(async (app) => {
        const ended = app.process?.ended
        if (ended === undefined) return
        const timer = setTimeout(() => {
          this.stuck.push(`${app.role} ${app.id} (${app.process?.stderr().trim().split('\n').slice(-2).join(' | ') ?? ''})`)
          app.process?.kill()
        }, STOP_TIMEOUT_MS)
        await ended
        clearTimeout(timer)
      }),
    )
    const drained = all.every((a) => a.closed?.drained === true)
    return { drained, unflushed: all.reduce((n, a) => n + (a.closed?.unflushed ?? 0), 0) }
  }

  private get(id: number): App {
    const app = this.apps.get(id)
    if (app === undefined) throw new Error(`no app ${id}`)
    return app
  }

  /** Starts a new incarnation, trying again while its tier or store is still down. */
  private async launch(app: App): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      app.incarnation++
      app.fsync = undefined
      const config: AppConfig = { ...this.base, role: app.role, id: app.id, incarnation: app.incarnation, dir: app.dir }
      const process = forkWorker<AppMessage>(APP, config, (message) => this.onMessage(app, message))
      app.process = process
      try {
        await process.ready
        return
      } catch (error) {
        process.kill()
        await process.ended
        if (attempt >= 20) throw new Error(`app ${app.id} could not start: ${String(error)}`)
        await sleep(500)
      }
    }
  }

  private onMessage(app: App, message: AppMessage): void {
    if (message.type === 'write') this.history.record(message)
    else if (message.type === 'fsynced') app.fsync = { segment: message.segment, bytes: message.bytes }
    else if (message.type === 'closed') app.closed = message
  }
}
