/** Runs a TypeScript child that prints a line per acknowledged write, and SIGKILLs it when the caller says. */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'

/**
 * Spawns `node --import tsx <script> ...args`, hands each whole stdout line to `onLine`, and sends
 * SIGKILL the first time `onLine` returns true. Resolves once the child is dead; fails the test if
 * it exited any other way (its stderr is in the message).
 */
export async function runUntilKilled(script: string, args: readonly string[], onLine: (line: string) => boolean): Promise<void> {
  const proc = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let buffered = ''
  let stderr = ''
  let killed = false
  proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  proc.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString()
    const lines = buffered.split('\n')
    buffered = lines.pop() ?? ''
    for (const line of lines) if (onLine(line) && !killed) killed = proc.kill('SIGKILL')
  })
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => proc.on('exit', (c, s) => resolve([c, s])))
  assert.equal(signal, 'SIGKILL', `the child was killed, not exited (code ${code}, signal ${signal}): ${stderr}`)
}
