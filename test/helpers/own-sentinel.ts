// Throwaway Redis Sentinels for the Redis tier's tests: the installed redis-server run with
// `--sentinel` on a free loopback port, with its own config file in a temp dir (Sentinel rewrites
// it), watching one primary under a master name, with short timeouts so that a primary killed with
// -9 is failed over in a few seconds. Started in their own process group and stopped by pid (never
// the shared 6379).
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freePort } from './own-servers.js'

export interface OwnSentinel {
  readonly port: number
  /** The primary it reports for `name` now (`host:port`), or undefined while it knows none. */
  primary(name: string): Promise<string | undefined>
  /** The port of the primary it names for `name` when no failover is in progress and that node says it is a primary; else undefined. */
  settled(name: string): Promise<number | undefined>
  /** Resolves once it has discovered `count` replicas of `name` (it reads them from the primary's INFO), so a failover can pick one. */
  knowsReplicas(name: string, count: number): Promise<void>
  /** SIGKILLs it and deletes its directory. */
  destroy(): Promise<void>
}

export interface SentinelSettings {
  /** The master name clients ask for. */
  readonly name: string
  /** The primary's port on 127.0.0.1. */
  readonly primaryPort: number
  /** Sentinels that must agree the primary is down. @default 1 */
  readonly quorum?: number
  /** How long the primary must not answer before it is seen down (ms). @default 1000 */
  readonly downAfterMs?: number
  /** @default 3000 */
  readonly failoverTimeoutMs?: number
}

export async function startOwnSentinel(settings: SentinelSettings): Promise<OwnSentinel> {
  const dir = mkdtempSync(join(tmpdir(), 'wb-sentinel-'))
  const port = await freePort()
  const conf = join(dir, 'sentinel.conf')
  const { name } = settings
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${settings.primaryPort} ${settings.quorum ?? 1}`,
      `sentinel down-after-milliseconds ${name} ${settings.downAfterMs ?? 1000}`,
      `sentinel failover-timeout ${name} ${settings.failoverTimeoutMs ?? 3000}`,
      `sentinel parallel-syncs ${name} 1`,
      '',
    ].join('\n'),
  )
  const child: ChildProcess = spawn(process.env.WB_REDIS_SERVER ?? 'redis-server', [conf, '--sentinel'], { stdio: 'ignore', detached: true })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const admin = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 }).on('error', () => {})
  const primary = async (master: string): Promise<string | undefined> => {
    const reply = (await admin.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', master)) as [string, string] | null
    return reply === null ? undefined : `${reply[0]}:${reply[1]}`
  }
  const deadline = Date.now() + 20_000
  for (;;) {
    try {
      if (admin.status === 'wait' || admin.status === 'end') await admin.connect()
      if ((await primary(name)) !== undefined) break
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`the sentinel on ${port} did not come up: ${String(error)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    port,
    primary,
    async settled(master) {
      const fields = (await admin.call('SENTINEL', 'MASTER', master)) as string[]
      const flags = fields[fields.indexOf('flags') + 1] ?? ''
      const port = Number(fields[fields.indexOf('port') + 1])
      if (flags !== 'master') return undefined // e.g. master,failover_in_progress or s_down
      const node = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null }).on('error', () => {})
      try {
        await node.connect()
        return String(await node.info('replication')).includes('role:master') ? port : undefined
      } finally {
        node.disconnect()
      }
    },
    async knowsReplicas(master, count) {
      const until = Date.now() + 30_000
      while (((await admin.call('SENTINEL', 'REPLICAS', master)) as unknown[]).length < count) {
        if (Date.now() > until) throw new Error(`the sentinel on ${port} did not discover ${count} replicas of ${master}`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    },
    async destroy() {
      admin.disconnect()
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        process.kill(-child.pid, 'SIGKILL')
        await exited
      }
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 })
    },
  }
}

/**
 * Resolves with the port of the new primary once `sentinel` has failed `name` over from `oldPort`
 * and settled: it names another node, no failover is in progress (under load a failover can time
 * out and be tried again with another replica), and that node says it is a primary. Rejects after
 * `timeoutMs`.
 */
export async function failedOver(sentinel: OwnSentinel, name: string, oldPort: number, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const settled = await sentinel.settled(name).catch(() => undefined)
    if (settled !== undefined && settled !== oldPort) return settled
    if (Date.now() > deadline) throw new Error(`the sentinel did not fail ${name} over from ${oldPort} within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
