/**
 * Redis servers of the benchmark's own for the Redis tier's systems: the installed redis-server
 * on a free loopback port, in a temp dir, AOF on with the default `appendfsync everysec` (what the
 * tier asks for at open), no RDB snapshots, in its own process group, stopped by pid. A replica is
 * a second server started with `--replicaof`; the shared Redis (WB_REDIS_URL) is never touched.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'

export interface BenchRedis {
  readonly url: string
  readonly port: number
  stop(): Promise<void>
}

async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000
  for (;;) {
    if (await check().catch(() => false)) return
    if (Date.now() > deadline) throw new Error(`${what} within 20 s`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * Starts one server; with `replicaOf`, as a replica of that one, resolved once its link is up.
 * `wrapper` runs it under another command (`valgrind --tool=callgrind`, bench/flush-drain.ts).
 */
export async function startBenchRedis(replicaOf?: BenchRedis, wrapper: readonly string[] = []): Promise<BenchRedis & { readonly pid: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'wbbench-redis-'))
  const port = await freePort()
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes']
  if (replicaOf !== undefined) args.push('--replicaof', '127.0.0.1', String(replicaOf.port))
  const [command, ...before] = [...wrapper, 'redis-server']
  const child: ChildProcess = spawn(command, [...before, ...args], { stdio: 'ignore', detached: true })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const url = `redis://127.0.0.1:${port}`
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  probe.on('error', () => {})
  try {
    await until(`redis-server on ${port} did not come up`, async () => {
      if (probe.status !== 'ready') await probe.connect()
      return (await probe.ping()) === 'PONG'
    })
    if (replicaOf !== undefined) await until('the replica did not connect to its primary', async () => String(await probe.info('replication')).includes('master_link_status:up'))
  } finally {
    probe.disconnect()
  }
  const pid = child.pid as number
  return {
    url,
    port,
    pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        // The whole group: an AOF rewrite's forked child would otherwise go on writing in the dir.
        process.kill(-pid, 'SIGKILL')
        await exited
      }
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 })
    },
  }
}
