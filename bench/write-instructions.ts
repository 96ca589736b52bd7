/**
 * A reduced write loop for instruction counting (`valgrind --tool=callgrind`, which counts
 * instructions whatever else the machine does): `mode` is `floor` (the floor of one awaited write,
 * as in core.bench.ts) or `cache` (`await cache.set()` at `memory`), `keys` is `hot` (10k keys) or
 * `distinct` (a new key per write), `n` the writes. Run it twice with two `n` and divide the
 * difference in instructions by the difference in writes: startup and compilation cancel out.
 *   npx esbuild bench/write-instructions.ts --bundle --platform=node --format=esm --outfile=/tmp/wi.mjs \
 *     --external:better-sqlite3 --external:pg --external:mysql2 --external:ioredis --external:redis
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null node /tmp/wi.mjs cache hot 200000
 */
import { MemoryStore, WriteBehindCache } from '../src/index.js'

const [mode = 'cache', keysKind = 'hot', count = '100000'] = process.argv.slice(2)
const n = Number(count)
const keys = Array.from({ length: keysKind === 'hot' ? 10_000 : n }, (_, i) => `${keysKind === 'hot' ? 'hot' : 'player'}:${i}`)

interface Written {
  encoded: string
  version: number
}
const RESOLVED: Promise<void> = Promise.resolve()
function floorWrite(map: Map<string, Written>, key: string, value: unknown, version: number): Promise<void> {
  map.set(key, { encoded: JSON.stringify(value), version })
  return RESOLVED
}

if (mode === 'floor') {
  const map = new Map<string, Written>()
  for (let i = 0; i < n; i++) await floorWrite(map, keys[i % keys.length] as string, { score: i }, i + 1)
} else {
  const cache = await WriteBehindCache.open<{ score: number }>({ store: new MemoryStore(), durability: 'memory', backlog: { maxEntries: 4_000_000 }, warn: () => {} })
  for (let i = 0; i < n; i++) await cache.set(keys[i % keys.length] as string, { score: i })
  process.exit(0) // not close(): its flush is not the write's
}
