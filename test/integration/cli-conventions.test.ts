/**
 * The conventions every `writebehind` command shares: one parser (unknown flags are a usage error
 * naming the flag, with a suggestion), one exit-code table (64 usage, 66 no such dir, 0 for
 * --help, which documents the codes), and a reader that goes away (`| head -1`, EPIPE) ends the
 * process quietly. In-process for the codes; the real binary for dispatch and EPIPE.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { DeadLetter } from '../../src/contracts/dead-letters.js'
import { DeadLetterQueue } from '../../src/dead-letters/queue.js'
import { runCaptured } from '../helpers/capture.js'

type Run = (args: string[], out: NodeJS.WritableStream) => Promise<number>

const BIN = fileURLToPath(new URL('../../bin/writebehind.js', import.meta.url))

async function capture(run: Run, args: string[]): Promise<{ code: number; text: string }> {
  return runCaptured(run, args)
}

async function command(name: string): Promise<Run> {
  const module = (await import(`../../src/cli/commands/${name}.ts`)) as { run: Run }
  return module.run
}

describe('one exit-code convention for every command', () => {
  // [command module, the args before the dir, a misspelled flag and the suggestion expected]
  const cases: Array<[string, string[], string, string]> = [
    ['inspect', [], '--jsn', '--json'],
    ['verify', [], '--jsonn', '--json'],
    ['recover', [], '--stor', '--store'],
    ['dlq', ['list'], '--prefx', '--prefix'],
    ['dlq', ['replay'], '--tabel', '--table'],
  ]

  for (const [name, head, typo, suggestion] of cases) {
    const label = [name, ...head].join(' ')
    it(`${label}: unknown flag 64 naming it with a suggestion, missing dir argument 64, missing dir 66, --help 0 with the codes`, async () => {
      const run = await command(name)
      const root = await mkdtemp(join(tmpdir(), 'wb-cli-conv-'))
      try {
        const store = name === 'recover' || head[0] === 'replay' ? ['--store', join(root, 'app.db')] : []
        const unknown = await capture(run, [...head, root, typo, 'x'])
        assert.equal(unknown.code, 64, unknown.text)
        assert.ok(unknown.text.includes(`unknown option ${typo}`), unknown.text)
        assert.ok(unknown.text.includes(`did you mean ${suggestion}?`), unknown.text)

        const noDir = await capture(run, [...head, ...store])
        assert.equal(noDir.code, 64, noDir.text)

        const missing = await capture(run, [...head, join(root, 'nope'), ...store])
        assert.equal(missing.code, 66, missing.text)
        assert.match(missing.text, /nope/)

        const help = await capture(run, [...head, '--help'])
        assert.equal(help.code, 0, help.text)
        assert.match(help.text, /Usage:\s+writebehind/)
        assert.match(help.text, /64/)
        assert.match(help.text, /66/)
      } finally {
        await rm(root, { recursive: true, force: true })
      }
    })
  }

  it('demo: an unknown flag is a usage error (64) with a suggestion; a bad choice suggests the closest', async () => {
    const run = await command('demo')
    const typo = await capture(run, ['--durabilty', 'disk'])
    assert.equal(typo.code, 64)
    assert.match(typo.text, /unknown option --durabilty \(did you mean --durability\?\)/)
    const choice = await capture(run, ['--durability', 'stor'])
    assert.equal(choice.code, 64)
    assert.match(choice.text, /did you mean store\?/)
  })

  it('the main help documents the exit codes; an unknown command is 64 with a suggestion', () => {
    const help = spawnSync(process.execPath, [BIN, 'help'], { encoding: 'utf8' })
    assert.equal(help.status, 0)
    assert.match(help.stdout, /Exit codes \(every command\):/)
    for (const code of ['0', '1', '2', '64', '65', '66', '69', '70', '75']) assert.match(help.stdout, new RegExp(`^  ${code} `, 'm'), `help documents ${code}`)
    const typo = spawnSync(process.execPath, [BIN, 'recovr'], { encoding: 'utf8' })
    assert.equal(typo.status, 64)
    assert.match(typo.stdout, /unknown command "recovr" \(did you mean recover\?\)/)
  })
})

describe('a reader that goes away', () => {
  it('`writebehind dlq list <dir> | head -1`: exits 0, quietly (no EPIPE stack trace)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wb-cli-epipe-'))
    try {
      const queue = await DeadLetterQueue.open(dir)
      const letters: DeadLetter[] = []
      for (let i = 0; i < 5000; i++) {
        letters.push({
          key: `user:${i}`,
          version: i + 1,
          kind: 'set',
          encoded: '1',
          error: { name: 'Error', message: 'x'.repeat(40), retryable: false },
          attempts: 1,
          firstFailedAt: 1,
          lastFailedAt: 2,
        })
      }
      await queue.add(letters)
      await queue.close()
      const child = spawn(process.execPath, [BIN, 'dlq', 'list', dir], { stdio: ['ignore', 'pipe', 'pipe'] })
      let stderr = ''
      child.stderr.setEncoding('utf8')
      child.stderr.on('data', (chunk: string) => (stderr += chunk))
      // Like `head -1`: read the first chunk, then close our end of the pipe.
      child.stdout.once('data', () => child.stdout.destroy())
      const [code, signal] = (await once(child, 'exit')) as [number | null, string | null]
      assert.equal(stderr, '')
      assert.deepEqual([code, signal], [0, null])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
