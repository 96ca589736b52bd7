// Throwaway Redis servers for the Redis tier's tests: the installed redis-server on a free loopback
// port, in a temp dir, in its own process group, stopped by pid (never the shared 6379). `pause`/
// `resume` send SIGSTOP and SIGCONT (a stalled replica), `crash` SIGKILLs the group, `restart`
// starts it again on the same dir and port (what its AOF kept is loaded back).
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freePort } from './own-servers.js'

export interface OwnRedis {
  readonly port: number
  readonly url: string
  /** Its data dir (the AOF lives here). */
  readonly dir: string
  /** A new ioredis client on this server (the caller quits it). */
  client(): Redis
  pause(): void
  resume(): void
  crash(): Promise<void>
  /** Crashes it if it runs, then starts it on the same dir and port; resolves once it answers PING. */
  restart(): Promise<void>
  /** Crashes it (if running) and deletes its directory. */
  destroy(): Promise<void>
}

interface Running {
  readonly child: ChildProcess
  readonly exited: Promise<void>
}

export async function startOwnRedis(extraArgs: string[] = []): Promise<OwnRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'wb-redis-'))
  const port = await freePort()
  const url = `redis://127.0.0.1:${port}`
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', ...extraArgs]
  let running: Running | undefined
  const launch = async (): Promise<void> => {
    const child = spawn(process.env.WB_REDIS_SERVER ?? 'redis-server', args, { stdio: 'ignore', detached: true })
    running = { child, exited: new Promise<void>((resolve) => child.once('exit', () => resolve())) }
    await answering(url, port)
  }
  const crash = async (): Promise<void> => {
    const current = running
    running = undefined
    const { child, exited } = current ?? {}
    if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
    process.kill(child.pid, 'SIGCONT')
    // The whole process group: an AOF rewrite's forked child would otherwise go on writing in the dir.
    process.kill(-child.pid, 'SIGKILL')
    await exited
  }
  const pid = (): number => {
    if (running?.child.pid === undefined) throw new Error(`redis-server on ${port} is not running`)
    return running.child.pid
  }
  await launch()
  return {
    port,
    url,
    dir,
    client: () => new Redis(url, { maxRetriesPerRequest: 1 }).on('error', () => {}),
    pause: () => process.kill(pid(), 'SIGSTOP'),
    resume: () => process.kill(pid(), 'SIGCONT'),
    crash,
    async restart() {
      await crash()
      await launch()
    },
    async destroy() {
      await crash()
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 })
    },
  }
}

/** Resolves once the server on `port` answers PING (it loaded its AOF). */
async function answering(url: string, port: number): Promise<void> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  probe.on('error', () => {})
  const deadline = Date.now() + 20_000
  try {
    for (;;) {
      try {
        if (probe.status !== 'ready') await probe.connect()
        await probe.ping()
        return
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not come up: ${String(error)}`)
        probe.disconnect()
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
  } finally {
    probe.disconnect()
  }
}

/** Makes `replica` a replica of `primary` and waits until its link is up. */
export async function replicate(replica: OwnRedis, primary: OwnRedis): Promise<void> {
  const client = replica.client()
  try {
    await client.call('REPLICAOF', '127.0.0.1', String(primary.port))
    const deadline = Date.now() + 20_000
    while (!String(await client.info('replication')).includes('master_link_status:up')) {
      if (Date.now() > deadline) throw new Error('the replica did not connect to its primary')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  } finally {
    client.disconnect()
  }
}

/** Promotes `replica` (REPLICAOF NO ONE). */
export async function promote(replica: OwnRedis): Promise<void> {
  const client = replica.client()
  try {
    await client.call('REPLICAOF', 'NO', 'ONE')
  } finally {
    client.disconnect()
  }
}
