/**
 * Child process for the dead-letter kill test: opens the queue in argv[2] and adds letters (keys
 * prefixed with argv[3]) one by one (some with big values so appends span pages), printing `acked <key>` after each add
 * resolved, until it is killed.
 */
import { DeadLetterQueue } from '../../src/dead-letters/queue.js'

const [dir, prefix = ''] = process.argv.slice(2)
if (dir === undefined) throw new TypeError('usage: dlq-writer-child <dir> [key prefix]')
const queue = await DeadLetterQueue.open(dir)
for (let i = 0; ; i++) {
  const key = `${prefix}k${i}`
  const encoded = JSON.stringify('x'.repeat(i % 7 === 0 ? 20_000 : 50))
  const error = { name: 'StoreError', message: 'bad row', retryable: false }
  await queue.add([{ key, version: i + 1, kind: 'set', encoded, error, attempts: 1, firstFailedAt: i, lastFailedAt: i }])
  process.stdout.write(`acked ${key}\n`)
}
