// Throwaway Redis servers for the Redis tier's tests: the installed redis-server on a free loopback
// port, in a temp dir, in its own process group, stopped by pid (never the shared 6379). `pause`/
// `resume` send SIGSTOP and SIGCONT (a stalled replica), `crash` SIGKILLs the group, `restart`
// starts it again on its port and dir (AOF reloaded).
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freePort } from './own-servers.js'

export interface OwnRedis {
  readonly port: number
  readonly url: string
  /** The running server's pid (its process group). */
  readonly pid: number
  /** A new ioredis client on this server (the caller quits it). */
  client(): Redis
  pause(): void
  resume(): void
  crash(): Promise<void>
  /** Starts it again (after `crash`) on the same port and dir: it reloads its AOF. */
  restart(): Promise<void>
  /** Crashes it (if running) and deletes its directory. */
  destroy(): Promise<void>
}

export async function startOwnRedis(extraArgs: string[] = []): Promise<OwnRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'wb-redis-'))
  const port = await freePort()
  const url = `redis://127.0.0.1:${port}`
  const launch = async (): Promise<{ child: ChildProcess; exited: Promise<void> }> => {
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', ...extraArgs], {
      stdio: 'ignore',
      detached: true,
    })
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    await waitForPing(url, port)
    return { child, exited }
  }
  let running = await launch()
  const crash = async (): Promise<void> => {
    const { child, exited } = running
    if (child.exitCode !== null || child.signalCode !== null) return
    const pid = child.pid as number
    process.kill(pid, 'SIGCONT')
    // The whole process group: an AOF rewrite's forked child would otherwise go on writing in the dir.
    process.kill(-pid, 'SIGKILL')
    await exited
  }
  const signal = (name: NodeJS.Signals): void => {
    const { child } = running
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid as number, name)
  }
  return {
    port,
    url,
    get pid() {
      return running.child.pid as number
    },
    client: () => new Redis(url, { maxRetriesPerRequest: 1 }).on('error', () => {}),
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    crash,
    async restart() {
      await crash()
      running = await launch()
    },
    async destroy() {
      await crash()
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 })
    },
  }
}

async function waitForPing(url: string, port: number): Promise<void> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  probe.on('error', () => {})
  const deadline = Date.now() + 20_000
  try {
    for (;;) {
      try {
        await probe.connect()
        await probe.ping()
        return
      } catch (error) {
        // A server loading its AOF answers LOADING: wait for it like for one not yet listening.
        probe.disconnect()
        if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not come up: ${String(error)}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
  } finally {
    probe.disconnect()
  }
}

/**
 * Makes `replica` a replica of `primary` and waits until its link is up. Errors on the way (a
 * server still loading its data after a restart) are tried again until the deadline.
 */
export async function replicate(replica: OwnRedis, primary: OwnRedis): Promise<void> {
  const client = replica.client()
  const deadline = Date.now() + 20_000
  try {
    for (;;) {
      try {
        await client.call('REPLICAOF', '127.0.0.1', String(primary.port))
        while (!String(await client.info('replication')).includes('master_link_status:up')) {
          if (Date.now() > deadline) throw new Error('the replica did not connect to its primary')
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
        return
      } catch (error) {
        if (Date.now() > deadline) throw error
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
  } finally {
    client.disconnect()
  }
}
