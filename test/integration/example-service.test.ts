/**
 * The README's service example (examples/leaderboard/server.mjs), run the way a user runs it: the
 * package built, the example importing `writebehind` by name (the built files, through the
 * package's exports), a real HTTP server in its own process, SIGTERM for a graceful shutdown and
 * SIGKILL for a crash.
 */
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const SERVER = join(ROOT, 'examples', 'leaderboard', 'server.mjs')

interface Service {
  child: ChildProcess
  port: number
  output: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

async function start(root: string): Promise<Service> {
  const child = spawn(process.execPath, [SERVER], {
    cwd: root,
    env: { ...process.env, PORT: '0', DB_PATH: join(root, 'board.db'), WB_DIR: join(root, 'wb'), NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let text = ''
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the service did not start:\n${text}`)), 20_000)
    child.stdout?.on('data', () => {
      const match = /listening on port (\d+)/.exec(text)
      if (match !== null) {
        clearTimeout(timer)
        resolve(Number(match[1]))
      }
    })
    void exited.then(() => reject(new Error(`the service exited:\n${text}`)))
  })
  return { child, port, output: () => text, exited }
}

async function call(service: Service, method: string, path: string, body?: string): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`http://127.0.0.1:${service.port}${path}`, { method, body })
  const text = await response.text()
  return { status: response.status, json: text === '' ? undefined : JSON.parse(text) }
}

function rows(path: string): Map<string, { value: unknown; deleted: boolean }> {
  const db = new Database(path, { readonly: true })
  try {
    const all = db.prepare('SELECT key, value, deleted FROM writebehind_entries').all() as Array<{ key: string; value: string; deleted: number }>
    return new Map(all.map((r) => [r.key, { value: r.deleted ? undefined : JSON.parse(r.value), deleted: r.deleted === 1 }]))
  } finally {
    db.close()
  }
}

async function withTemp(use: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'wb-example-'))
  try {
    await use(root)
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

describe('the README service example', () => {
  before(() => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
    const built = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' })
    assert.equal(built.status, 0, `npm run build failed:\n${built.stdout}${built.stderr}`)
  })

  it('serves writes and reads over HTTP and drains everything into SQLite on SIGTERM', async () => {
    await withTemp(async (root) => {
      const service = await start(root)
      for (let i = 0; i < 50; i++) assert.equal((await call(service, 'PUT', `/players/${i}`, JSON.stringify({ score: i * 10 }))).status, 204)
      await call(service, 'PUT', '/players/7', JSON.stringify({ score: 7777 }))
      assert.equal((await call(service, 'DELETE', '/players/3')).status, 204)
      assert.deepEqual(await call(service, 'GET', '/players/7'), { status: 200, json: { score: 7777 } })
      assert.equal((await call(service, 'GET', '/players/3')).status, 404)
      assert.equal((await call(service, 'PUT', '/players/9', 'not json')).status, 400)

      service.child.kill('SIGTERM')
      assert.deepEqual(await service.exited, { code: 0, signal: null }, service.output())
      assert.match(service.output(), /SIGTERM: drained=true unflushed=0/)

      const stored = rows(join(root, 'board.db'))
      assert.equal(stored.size, 50)
      assert.deepEqual(stored.get('player:7'), { value: { score: 7777 }, deleted: false })
      assert.deepEqual(stored.get('player:3'), { value: undefined, deleted: true })
      for (let i = 0; i < 50; i++) if (i !== 3 && i !== 7) assert.deepEqual(stored.get(`player:${i}`)?.value, { score: i * 10 })
    })
  })

  it('keeps acknowledged writes across kill -9: the next start replays its log and flushes them', async () => {
    await withTemp(async (root) => {
      const first = await start(root)
      // The flush interval is 500 ms: these are acknowledged (in the log) but not yet in SQLite.
      for (let i = 0; i < 20; i++) assert.equal((await call(first, 'PUT', `/players/${i}`, JSON.stringify({ score: 1000 + i }))).status, 204)
      first.child.kill('SIGKILL')
      assert.equal((await first.exited).signal, 'SIGKILL')

      const second = await start(root)
      for (let i = 0; i < 20; i++) assert.deepEqual(await call(second, 'GET', `/players/${i}`), { status: 200, json: { score: 1000 + i } })
      second.child.kill('SIGTERM')
      assert.equal((await second.exited).code, 0, second.output())
      const stored = rows(join(root, 'board.db'))
      for (let i = 0; i < 20; i++) assert.deepEqual(stored.get(`player:${i}`)?.value, { score: 1000 + i })
    })
  })
})
