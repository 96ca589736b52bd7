// The clients a Redis tier's suites run on: ioredis (`new Redis(url)`) and node-redis
// (`await createClient({ url }).connect()`). `WB_REDIS_CLIENTS=ioredis` runs only the first.
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import type { RedisClientLike } from '../../src/redis.js'

export type ClientKind = 'ioredis' | 'node-redis'

export const CLIENT_KINDS: readonly ClientKind[] = (process.env.WB_REDIS_CLIENTS?.split(',') ?? ['ioredis', 'node-redis']) as ClientKind[]

/** A client for a tier and how to drop it (at once, whatever it has queued). */
export interface TierClient {
  readonly client: RedisClientLike
  disconnect(): void
}

/**
 * A new client of `kind` on `url`, connected. ioredis with `maxRetriesPerRequest: 1` (what
 * `OwnRedis.client()` makes), node-redis with its defaults unless `nodeRedis` says more (its
 * `createClient` options); neither reports its connection errors as uncaught.
 */
export async function tierClient(kind: ClientKind, url: string, nodeRedis: Record<string, unknown> = {}): Promise<TierClient> {
  if (kind === 'ioredis') {
    const client = new Redis(url, { maxRetriesPerRequest: 1 }).on('error', () => {})
    return { client, disconnect: () => client.disconnect() }
  }
  const client = createClient({ url, ...nodeRedis }).on('error', () => {})
  await client.connect()
  return {
    client,
    disconnect: () => {
      if (!client.isOpen) return
      // node-redis 5+: destroy(); 4 has only disconnect() (a promise).
      if (typeof client.destroy === 'function') client.destroy()
      else void (client as { disconnect(): Promise<void> }).disconnect().catch(() => {})
    },
  }
}
