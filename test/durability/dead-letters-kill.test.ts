// kill -9 while the dead-letter queue is appending: every add that resolved before the kill is
// there after reopen, and the reopen succeeds (an unfinished append is a torn tail, not corruption).
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DeadLetterQueue } from '../../src/dead-letters/queue.js'
import { runUntilKilled } from '../helpers/kill-child.js'

const child = fileURLToPath(new URL('../helpers/dlq-writer-child.ts', import.meta.url))

/** Runs the writer until it acknowledged `acks` letters (plus whatever it acked before dying), then SIGKILLs it. */
async function writeThenKill(dir: string, prefix: string, acks: number): Promise<Set<string>> {
  const acked = new Set<string>()
  await runUntilKilled(child, [dir, prefix], (line) => acked.add(line.replace(/^acked /, '')).size >= acks)
  return acked
}

describe('dead-letter queue under kill -9', () => {
  it('keeps every acknowledged letter across three kills', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'wb-dlq-kill-'))
    try {
      const acked = new Set<string>()
      for (let round = 0; round < 3; round++) {
        for (const key of await writeThenKill(dir, `r${round}-`, 40)) acked.add(key)
        const queue = await DeadLetterQueue.open(dir)
        const keys = new Set(queue.list().map((l) => l.key))
        t.diagnostic(`round ${round}: ${keys.size} letters, ${queue.tornBytes} torn bytes dropped`)
        await queue.close()
        for (const key of acked) assert.ok(keys.has(key), `acknowledged ${key} survived round ${round}`)
      }
      assert.ok(acked.size >= 120)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
