// A suite run once per Redis server binary (`SERVER_BINARIES`: redis-server, and valkey-server when
// installed), each time on a server of its own: one `describe` per binary, whose `before` starts the
// server and an admin client and whose `after` disconnects every client handed out and destroys it.
import { after, before, describe } from 'node:test'
import type { Redis } from 'ioredis'
import { SERVER_BINARIES, startOwnRedis, type OwnRedis } from './own-redis.js'

/** The server of the `describe` that runs now. */
export interface ServerInUse {
  readonly server: OwnRedis
  /** A client for the test's own reads and settings. */
  readonly admin: Redis
  /** A new client on the server, disconnected in `after`. */
  client(): Redis
}

/**
 * Registers `describe(title(binary), …)` per binary, running `suite`; `use` gets the server in use
 * in that describe's `before`, before any of its tests (the describes run one after the other).
 */
export function describeEachServer(title: (binary: string) => string, use: (current: ServerInUse) => void, suite: () => void): void {
  for (const binary of SERVER_BINARIES) {
    describe(title(binary), () => {
      const clients: Redis[] = []
      let server: OwnRedis | undefined
      before(async () => {
        const started = (server = await startOwnRedis([], { binary }))
        const admin = started.client()
        clients.push(admin)
        use({ server: started, admin, client: () => (clients.push(started.client()), clients[clients.length - 1] as Redis) })
      })
      after(async () => {
        for (const c of clients.splice(0)) c.disconnect()
        await server?.destroy()
      })
      suite()
    })
  }
}
