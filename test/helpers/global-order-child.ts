/**
 * Child process for the global-order crash test: opens a cache in argv[2] (dirty log, durability
 * `log`, `flush.order: 'global'`, small batches flushed all the time) over the SQLite file argv[3],
 * and sets random keys one after another, printing `acked <key> <seq>` once each set resolved,
 * until it is killed. Values are `{ seq }`, seq counting up across all keys from argv[5]
 * (a later run passes a higher base, so seq order is write order across runs).
 */
import { WriteBehindCache } from '../../src/index.js'
import { SqliteStore } from '../../src/stores/sql/sqlite/index.js'
import { seededRandom } from './seeded-random.js'

const [dir, db, seed = '1', base = '0'] = process.argv.slice(2)
if (dir === undefined || db === undefined) throw new TypeError('usage: global-order-child <dir> <db> [seed]')
const cache = await WriteBehindCache.open<{ seq: number }>({
  store: new SqliteStore({ path: db }),
  dir,
  durability: 'log',
  segmentBytes: 64 * 1024,
  flush: { order: 'global', batchSize: 7, intervalMs: 2 },
})
const random = seededRandom(Number(seed))
for (let seq = Number(base) + 1; ; seq++) {
  const key = `k${Math.floor(random() * 40)}`
  await cache.set(key, { seq })
  process.stdout.write(`acked ${key} ${seq}\n`)
}
