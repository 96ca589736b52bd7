/**
 * `writebehind dashboard` as a user runs it, through the real bin from the sources: the URL is
 * printed first (loopback, a 64-hex token), a run started over the API with the token header
 * crashes itself, the command prints its result line, and Ctrl-C stops it with exit 0. A port
 * already taken and an unknown flag are usage errors (64).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import net from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const BIN = join(fileURLToPath(new URL('../..', import.meta.url)), 'bin', 'writebehind.js')

describe('writebehind dashboard', { timeout: 90_000 }, () => {
  it('prints the URL first, runs a crash from the API, prints the result, and stops on Ctrl-C', async () => {
    const child = spawn(process.execPath, [BIN, 'dashboard'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    const seen = (pattern: RegExp): Promise<RegExpExecArray> =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(out)
          if (match !== null) {
            child.stdout.off('data', check)
            resolve(match)
          }
        }
        child.stdout.on('data', check)
        child.once('exit', (code) => reject(new Error(`exited (${code}) before ${String(pattern)}: ${out}`)))
        // Never hang on a dashboard that prints nothing more: fail, and the finally below stops it.
        setTimeout(() => reject(new Error(`no ${String(pattern)} in 60 s: ${out}`)), 60_000).unref()
        check()
      })
    child.stdout.setEncoding('utf8').on('data', (text: string) => (out += text))
    try {
      const [, url] = await seen(/open (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64})\n/)
      assert.ok(out.startsWith('writebehind dashboard: open http://127.0.0.1:'), out)
      const token = new URL(url as string).searchParams.get('token') as string
      const body = JSON.stringify({ settings: { durability: 'memory', intervalMs: 5000 }, plan: { crash: 'kill', afterMs: 700 } })
      const refused = await fetch(new URL('/api/run', url), { method: 'POST', body })
      assert.equal(refused.status, 403)
      const started = await fetch(new URL('/api/run', url), { method: 'POST', body, headers: { 'x-writebehind-token': token } })
      assert.equal(started.status, 200)
      const [line] = await seen(/run 1 (memory kill -9|failed): .*\n/)
      assert.match(line, /run 1 memory kill -9: [\d,]+ writes acked .* LOST/)
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
      child.kill('SIGINT')
      assert.equal(await exited, 0, out)
    }
  })

  it('refuses a port already taken and an unknown flag with exit 64', async () => {
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const port = (server.address() as net.AddressInfo).port
      const taken = spawnSync(process.execPath, [BIN, 'dashboard', '--port', String(port)], { encoding: 'utf8', timeout: 30_000 })
      assert.equal(taken.status, 64, taken.stdout + taken.stderr)
      assert.match(taken.stdout, /cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/)
    } finally {
      server.close()
    }
    const unknown = spawnSync(process.execPath, [BIN, 'dashboard', '--prot', '1'], { encoding: 'utf8', timeout: 30_000 })
    assert.equal(unknown.status, 64)
    assert.match(unknown.stdout, /--port/)
  })
})
