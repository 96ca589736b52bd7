/**
 * Child process for the failed-log-write test, run under `ulimit -f` so that one write(2) of two
 * buffered records is cut short (EFBIG, like a full disk): a small record fits, a big one does not.
 * Prints what each write's promise did as JSON, then exits at once (no close, no checkpoint).
 */
import { MemoryStore, WriteBehindCache } from '../../src/index.js'

const dir = process.argv[2]
if (dir === undefined) throw new TypeError('usage: log-full-disk-child <dir>')

const cache = await WriteBehindCache.open({ store: new MemoryStore(), dir, warn: () => {}, flush: { intervalMs: 60_000 } })
await cache.set('balance', 'A')
const outcome = (p: Promise<void>): Promise<string> =>
  p.then(
    () => 'ok',
    (e: unknown) => (e as { code?: string }).code ?? String(e),
  )
const small = outcome(cache.set('small', 'whole in the file, but rejected'))
const big = outcome(cache.set('big', 'x'.repeat(64 * 1024)))
const results = { small: await small, big: await big, balance: await cache.get('balance'), smallNow: await cache.get('small') }
// Exits without close(), as a crash would: no checkpoint covers the rejected versions.
process.stdout.write(`${JSON.stringify(results)}\n`, () => process.exit(0))
