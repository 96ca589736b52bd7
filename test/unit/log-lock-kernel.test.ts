/**
 * The directory lock against what happens to real processes: a LOCK file deleted under a live
 * writer (an age-based /tmp cleaner), a holder killed with -9 and restarted at once, a pid reused
 * by an unrelated process, and a second open in the same process.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { DirectoryLockedError } from '../../src/index.js'
import { DirtyLog } from '../../src/log/dirty-log.js'
import { chattrWorks, tempDir } from './log-helpers.js'

const logModule = fileURLToPath(new URL('../../src/log/dirty-log.ts', import.meta.url))
const linux = process.platform === 'linux'

/**
 * A child that opens `dir`, appends `first` records at `disk` (each awaited: acknowledged), says
 * `half`, waits for a line on stdin, appends `second` more, closes and says `done <count>`.
 * Small segments, so it rolls while the parent works on the dir.
 */
function writer(dir: string, first: number, second: number) {
  const script = `
    import { DirtyLog } from ${JSON.stringify(logModule)}
    import { createInterface } from 'node:readline'
    const { log } = await DirtyLog.open({ dir: ${JSON.stringify(dir)}, segmentBytes: 4096 })
    let version = 0
    const write = async (n) => {
      for (let i = 0; i < n; i++) {
        version++
        log.append({ kind: 'set', key: 'k' + version, version, encoded: JSON.stringify('x'.repeat(40)) })
        await log.synced()
      }
    }
    await write(${first})
    console.log('half')
    const lines = createInterface({ input: process.stdin })
    await new Promise((resolve) => lines.once('line', resolve))
    await write(${second})
    await log.close()
    console.log('done ' + version)
    process.exit(0)`
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  const waiters: Array<{ text: string; resolve: () => void }> = []
  proc.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString()
    for (const w of waiters.splice(0))
      if (out.includes(w.text)) w.resolve()
      else waiters.push(w)
  })
  const said = (text: string) => new Promise<void>((resolve) => (out.includes(text) ? resolve() : waiters.push({ text, resolve })))
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)))
  return { proc, said, exited, output: () => out }
}

/** A child that opens `dir`, says `opened` and then idles until killed. */
function holder(dir: string) {
  const script = `
    import { DirtyLog } from ${JSON.stringify(logModule)}
    const { log } = await DirtyLog.open({ dir: ${JSON.stringify(dir)} })
    log.append({ kind: 'set', key: 'held', version: 1, encoded: '1' })
    await log.synced()
    console.log('opened')
    setInterval(() => {}, 1000)`
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  const opened = new Promise<void>((resolve) => proc.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('opened') && resolve()))
  return { proc, opened }
}

/** Polls (a real other process's timer, so real time) until `check` holds or `ms` pass. */
async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) if (check()) return true
  return check()
}

describe('directory lock: kernel lock and LOCK file', { skip: linux ? false : 'the kernel lock is Linux only' }, () => {
  it('LOCK deleted under a live writer: a second process is refused, the holder writes LOCK again, no acknowledged write is lost', async () => {
    const dir = tempDir('lock-deleted')
    const a = writer(dir, 100, 116)
    try {
      await a.said('half')
      unlinkSync(join(dir, 'LOCK')) // what an age-based /tmp cleaner does
      await assert.rejects(DirtyLog.open({ dir }), (error: unknown) => {
        assert.ok(error instanceof DirectoryLockedError, String(error))
        assert.equal(error.pid, a.proc.pid, 'the holder answers with its pid even without a LOCK file')
        assert.equal(error.inThisProcess, false)
        return true
      })
      const restored = await eventually(() => existsSync(join(dir, 'LOCK')) && readFileSync(join(dir, 'LOCK'), 'utf8').trim() === String(a.proc.pid), 5000)
      assert.ok(restored, 'the live holder wrote its LOCK file again')
      a.proc.stdin.write('go\n')
      assert.equal(await a.exited, 0)
      assert.match(a.output(), /done 216/)
    } finally {
      if (a.proc.exitCode === null) a.proc.kill('SIGKILL') // a failed assertion must not leave it waiting
    }
    const { log, recovered } = await DirtyLog.open({ dir })
    assert.deepEqual(
      recovered.records.map((r) => r.version),
      Array.from({ length: 216 }, (_, i) => i + 1),
      'all 216 writes acknowledged at disk are in the log',
    )
    await log.close()
  })

  it('a holder killed with -9 is recognised at once: a restart that does not even wait for its exit gets in', async () => {
    const dir = tempDir('lock-kill9')
    const h = holder(dir)
    await h.opened
    h.proc.kill('SIGKILL')
    // No await of the exit: until the parent reaps it the child is a zombie whose pid still "exists".
    const { log, recovered } = await DirtyLog.open({ dir })
    assert.deepEqual(
      recovered.records.map((r) => r.key),
      ['held'],
    )
    assert.equal(readFileSync(join(dir, 'LOCK'), 'utf8').trim(), String(process.pid))
    await log.close()
  })

  it('a LOCK naming a live process that holds no kernel lock (a reused pid) does not keep the dir locked', async () => {
    const dir = tempDir('lock-reused')
    const unrelated = spawn('sleep', ['30'], { stdio: 'ignore' })
    try {
      writeFileSync(join(dir, 'LOCK'), `${unrelated.pid}\n`)
      const { log } = await DirtyLog.open({ dir })
      assert.equal(readFileSync(join(dir, 'LOCK'), 'utf8').trim(), String(process.pid))
      await log.close()
    } finally {
      unrelated.kill('SIGKILL')
    }
  })

  it('the same dir by another path is the same lock', async () => {
    const dir = tempDir('lock-alias')
    const { log } = await DirtyLog.open({ dir })
    await assert.rejects(DirtyLog.open({ dir: join(dir, '.') }), { code: 'E_DIR_LOCKED' })
    await log.close()
  })
})

describe('directory lock in one process', () => {
  it('a second open in this process says the dir is open in this process', async () => {
    const dir = tempDir('lock-self')
    const { log } = await DirtyLog.open({ dir })
    await assert.rejects(DirtyLog.open({ dir }), (error: unknown) => {
      assert.ok(error instanceof DirectoryLockedError)
      assert.equal(error.inThisProcess, true)
      assert.equal(error.pid, process.pid)
      assert.match(error.message, /already open in this process/)
      assert.doesNotMatch(error.message, /another writebehind process/)
      return true
    })
    await log.close()
  })

  it('a close() that fails to remove LOCK (an immutable dir) still frees the dir for a reopen in this process', { skip: chattrWorks() ? false : 'needs chattr +i' }, async () => {
    const dir = tempDir('lock-failed-close')
    const { log } = await DirtyLog.open({ dir })
    log.append({ kind: 'set', key: 'k', version: 1, encoded: '1' })
    await log.synced()
    execFileSync('chattr', ['+i', dir])
    try {
      await log.close().catch(() => {}) // LOCK cannot be unlinked: the old close left it naming this process
    } finally {
      execFileSync('chattr', ['-i', dir])
    }
    assert.equal(readFileSync(join(dir, 'LOCK'), 'utf8').trim(), String(process.pid), 'the LOCK file could not be removed')
    const { log: again, recovered } = await DirtyLog.open({ dir })
    assert.deepEqual(
      recovered.records.map((r) => r.key),
      ['k'],
    )
    await again.close()
  })
})
