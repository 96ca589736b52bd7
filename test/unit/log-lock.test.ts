import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { DirectoryLockedError } from '../../src/errors.js'
import { DirtyLog } from '../../src/log/dirty-log.js'
import { isAlive } from '../../src/log/lock.js'
import { tempDir } from './log-helpers.js'

const logModule = fileURLToPath(new URL('../../src/log/dirty-log.ts', import.meta.url))

/** A pid that no process has now. */
function deadPid(): number {
  for (let pid = 4_000_000; ; pid++) if (!isAlive(pid)) return pid
}

/** Runs a child process that opens the log in `dir` and reports what happened on stdout. */
function child(dir: string, holdMs: number) {
  const script = `
    import { DirtyLog } from ${JSON.stringify(logModule)}
    try {
      const { log } = await DirtyLog.open({ dir: ${JSON.stringify(dir)} })
      log.append({ kind: 'set', key: 'from-child', version: 1, encoded: '1' })
      await log.synced()
      console.log('opened')
      await new Promise((r) => setTimeout(r, ${holdMs}))
      await log.close()
    } catch (error) {
      console.log(error.code + ' ' + error.pid)
    }`
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  const firstLine = new Promise<string>((resolve) => {
    proc.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes('\n')) resolve(out.trim())
    })
    proc.on('exit', () => resolve(out.trim()))
  })
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)))
  return { proc, firstLine, exited }
}

describe('directory lock', () => {
  it('a second open in the same process → DirectoryLockedError with our pid; close releases it', async () => {
    const dir = tempDir()
    const { log } = await DirtyLog.open({ dir })
    assert.equal(readFileSync(join(dir, 'LOCK'), 'utf8').trim(), String(process.pid))
    await assert.rejects(DirtyLog.open({ dir }), (error: unknown) => {
      assert.ok(error instanceof DirectoryLockedError)
      assert.equal(error.code, 'E_DIR_LOCKED')
      assert.equal(error.pid, process.pid)
      return true
    })
    await log.close()
    assert.equal(existsSync(join(dir, 'LOCK')), false)
    const again = await DirtyLog.open({ dir })
    await again.log.close()
  })

  it('takes over a stale lock left by a dead pid, and one with garbage in it', async () => {
    for (const content of [`${deadPid()}\n`, 'not a pid', '']) {
      const dir = tempDir()
      writeFileSync(join(dir, 'LOCK'), content)
      const { log } = await DirtyLog.open({ dir })
      assert.equal(readFileSync(join(dir, 'LOCK'), 'utf8').trim(), String(process.pid), JSON.stringify(content))
      await log.close()
    }
  })

  it('a real second process gets DirectoryLockedError naming our pid', async () => {
    const dir = tempDir()
    const { log } = await DirtyLog.open({ dir })
    const { firstLine, exited } = child(dir, 0)
    assert.equal(await firstLine, `E_DIR_LOCKED ${process.pid}`)
    assert.equal(await exited, 0)
    await log.close()
  })

  it('while another process holds the dir we are refused; after it is killed -9 we take over and see its write', async () => {
    const dir = tempDir()
    const holder = child(dir, 60_000)
    assert.equal(await holder.firstLine, 'opened')
    await assert.rejects(DirtyLog.open({ dir }), (e: unknown) => e instanceof DirectoryLockedError && e.pid === holder.proc.pid)
    holder.proc.kill('SIGKILL')
    await holder.exited
    const { log, recovered } = await DirtyLog.open({ dir })
    assert.deepEqual(
      recovered.records.map((r) => r.key),
      ['from-child'],
    )
    await log.close()
  })
})
