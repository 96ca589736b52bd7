/**
 * Child process for the failed-append test, run under `ulimit -f` so that a big append fails
 * half-way (EFBIG, like a full disk). Adds a small letter, then a big one (which must fail), then
 * a small one, and prints what happened as JSON.
 */
import type { DeadLetter } from '../../src/contracts/dead-letters.js'
import { DeadLetterQueue } from '../../src/dead-letters/queue.js'

const dir = process.argv[2]
if (dir === undefined) throw new TypeError('usage: dlq-full-disk-child <dir>')

function letter(key: string, size: number): DeadLetter {
  const error = { name: 'StoreError', message: 'bad row', retryable: false }
  return { key, version: 1, kind: 'set', encoded: JSON.stringify('x'.repeat(size)), error, attempts: 1, firstFailedAt: 0, lastFailedAt: 0 }
}

const queue = await DeadLetterQueue.open(dir)
await queue.add([letter('before', 100)])
let bigError: string | undefined
try {
  await queue.add([letter('big', 64 * 1024)])
} catch (error) {
  bigError = (error as NodeJS.ErrnoException).code ?? String(error)
}
await queue.add([letter('after', 100)])
const keys = queue.list().map((l) => l.key)
await queue.close()
process.stdout.write(`${JSON.stringify({ bigError, keys })}\n`)
