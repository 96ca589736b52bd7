// Throwaway database servers for tests that must kill one: a PostgreSQL (initdb + postgres) or a
// MariaDB (mariadb-install-db + mariadbd) in a temp dir on a free loopback port, in its own process
// group so `crash()` can SIGKILL the server and all its workers at once, then `start()` it again on
// the same data dir and port (crash recovery). The shared servers are never touched.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mysql from 'mysql2/promise'
import pg from 'pg'

export interface OwnServer {
  readonly port: number
  /** A connection URL for the `test` database. */
  readonly url: string
  /** Starts the server (again) on the same data dir and port; resolves once it accepts queries. */
  start(): Promise<void>
  /** SIGKILLs the server's whole process group and waits for it to exit. */
  crash(): Promise<void>
  /** Crashes it and deletes its directory. */
  destroy(): Promise<void>
}

/** A free loopback port (nobody listens on it once this resolves). */
export async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

async function waitUntil(what: string, probe: () => Promise<void>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await probe()
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what} did not come up in ${timeoutMs} ms: ${String(error)}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

/** A server process run in its own process group, crashable as a whole. */
function ownServer(port: number, url: string, dir: string, launch: () => ChildProcess, probe: () => Promise<void>): OwnServer {
  let child: ChildProcess | undefined
  const crash = async (): Promise<void> => {
    const running = child
    child = undefined
    if (running?.pid === undefined || running.exitCode !== null || running.signalCode !== null) return
    const exited = new Promise((resolve) => running.once('exit', resolve))
    process.kill(-running.pid, 'SIGKILL')
    await exited
  }
  return {
    port,
    url,
    async start() {
      // After a crash the old server's children can hold its shared memory and port for a moment,
      // and a server started then exits at once: start it again until it answers (or the wait ends).
      const running = (): ChildProcess => {
        if (child === undefined || child.exitCode !== null || child.signalCode !== null) child = launch()
        return child
      }
      await waitUntil(
        `the test server on port ${port}`,
        async () => {
          running()
          await probe()
        },
        60_000,
      )
    },
    crash,
    async destroy() {
      await crash()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function binary(name: string): string {
  const root = '/usr/lib/postgresql'
  const version = existsSync(root) ? readdirSync(root).sort().at(-1) : undefined
  if (version === undefined) throw new Error(`PostgreSQL binaries not found under ${root}`)
  return join(root, version, 'bin', name)
}

/**
 * A fresh PostgreSQL cluster (run as the `postgres` OS user when we are root, as initdb requires).
 * With `password`, TCP logins need it (scram-sha-256) and the URL carries it.
 */
export async function startOwnPostgres(options: { password?: string } = {}): Promise<OwnServer> {
  const dir = mkdtempSync(join(tmpdir(), 'wb-pg-'))
  const asUser: { uid?: number; gid?: number } = {}
  if (process.getuid?.() === 0) {
    asUser.uid = Number(execFileSync('id', ['-u', 'postgres']))
    asUser.gid = Number(execFileSync('id', ['-g', 'postgres']))
    chownSync(dir, asUser.uid, asUser.gid)
  }
  const data = join(dir, 'data')
  const auth = ['--auth=trust']
  if (options.password !== undefined) {
    const pwfile = join(dir, 'pwfile')
    writeFileSync(pwfile, options.password)
    if (asUser.uid !== undefined) chownSync(pwfile, asUser.uid, asUser.gid as number)
    auth.splice(0, 1, '--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`)
  }
  execFileSync(binary('initdb'), ['-D', data, '-U', 'postgres', ...auth, '-N'], { ...asUser, stdio: 'ignore' })
  const port = await freePort()
  const login = options.password === undefined ? 'postgres' : `postgres:${encodeURIComponent(options.password)}`
  const url = `postgres://${login}@127.0.0.1:${port}/postgres`
  const args = ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'shared_buffers=16MB']
  const launch = (): ChildProcess => spawn(binary('postgres'), args, { ...asUser, detached: true, stdio: 'ignore' })
  const probe = async (): Promise<void> => {
    const client = new pg.Client({ connectionString: url })
    client.on('error', () => undefined)
    await client.connect()
    await client.end()
  }
  const server = ownServer(port, url, dir, launch, probe)
  await server.start()
  return server
}

/** A fresh MariaDB with a `test` database (grant tables skipped: loopback only, throwaway). */
export async function startOwnMariaDb(): Promise<OwnServer> {
  const dir = mkdtempSync(join(tmpdir(), 'wb-my-'))
  const data = join(dir, 'data')
  execFileSync('mariadb-install-db', ['--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--user=root'], {
    stdio: 'ignore',
  })
  const port = await freePort()
  const url = `mysql://root@127.0.0.1:${port}/test`
  const args = [
    '--no-defaults',
    `--datadir=${data}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--socket=${join(dir, 'sock')}`,
    `--pid-file=${join(dir, 'pid')}`,
    '--user=root',
    '--skip-grant-tables',
    '--innodb-buffer-pool-size=32M',
    '--skip-log-bin',
  ]
  const launch = (): ChildProcess => spawn('mariadbd', args, { detached: true, stdio: 'ignore' })
  const probe = async (): Promise<void> => {
    const connection = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' })
    await connection.query('CREATE DATABASE IF NOT EXISTS test')
    await connection.end()
  }
  const server = ownServer(port, url, dir, launch, probe)
  await server.start()
  return server
}
