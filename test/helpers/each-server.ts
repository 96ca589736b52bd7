// A suite run once per Redis server binary (`SERVER_BINARIES`: redis-server, and valkey-server when
// installed), each time on a server of its own, and per client kind asked for (`tier-clients.ts`:
// ioredis, node-redis): one `describe` per binary and kind, whose `before` starts the server and an
// admin client and whose `after` disconnects every client handed out and destroys it.
import { after, before, describe } from 'node:test'
import type { Redis } from 'ioredis'
import type { RedisClientLike } from '../../src/redis.js'
import { SERVER_BINARIES, startOwnRedis, type OwnRedis } from './own-redis.js'
import { tierClient, type ClientKind, type TierClient } from './tier-clients.js'

/** The server of the `describe` that runs now. */
export interface ServerInUse {
  readonly server: OwnRedis
  /** A client for the test's own reads and settings. */
  readonly admin: Redis
  /** A new ioredis client on the server, disconnected in `after`. */
  client(): Redis
  /** The client kind the describe runs the tier on. */
  readonly kind: ClientKind
  /** A new connected client of `kind` for a tier, disconnected in `after`. */
  tierClient(): Promise<RedisClientLike>
}

/**
 * Registers `describe(title(binary, kind), …)` per binary and client kind (`kinds`, ioredis alone
 * unless asked), running `suite`; `use` gets the server in use in that describe's `before`, before
 * any of its tests (the describes run one after the other).
 */
export function describeEachServer(title: (binary: string, kind: ClientKind) => string, use: (current: ServerInUse) => void, suite: () => void, kinds: readonly ClientKind[] = ['ioredis']): void {
  for (const binary of SERVER_BINARIES) {
    for (const kind of kinds) {
      describe(title(binary, kind), () => {
        const clients: Array<{ disconnect(): void }> = []
        let server: OwnRedis | undefined
        before(async () => {
          const started = (server = await startOwnRedis([], { binary }))
          const ioredis = (): Redis => {
            const client = started.client()
            clients.push(client)
            return client
          }
          const forTier = async (): Promise<RedisClientLike> => {
            const made: TierClient = await tierClient(kind, started.url)
            clients.push(made)
            return made.client
          }
          use({ server: started, admin: ioredis(), client: ioredis, kind, tierClient: forTier })
        })
        after(async () => {
          for (const c of clients.splice(0)) c.disconnect()
          await server?.destroy()
        })
        suite()
      })
    }
  }
}
