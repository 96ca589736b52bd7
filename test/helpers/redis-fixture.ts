// A test file's own standalone Redis servers (own-redis.ts) and the shared PostgreSQL pool, with
// the node:test `after` hook that cleans up: the file's cleanups (its tables), then every client
// handed out disconnected, the pool ended, every server destroyed. The standalone counterpart of
// cluster-fixture.ts.
import { after } from 'node:test'
import type pg from 'pg'
import { createAuditedTable, dropAuditedTable } from './audited-table.js'
import { startOwnRedis, type OwnRedis } from './own-redis.js'
import { pgPool, uniqueName } from './store-servers.js'

export interface RedisFixture {
  /** Opens the pool and starts the file's first server, once (call it in the file's `before`). */
  start(): Promise<{ server: OwnRedis; pool: pg.Pool }>
  /** The pool alone, once (for files that start their servers with `servers`). */
  pool(): Promise<pg.Pool>
  /** `count` more servers, destroyed in `after`. */
  servers(count: number, args?: string[]): Promise<OwnRedis[]>
  /** `client` (any ioredis client), disconnected in `after`. */
  track<C extends { disconnect(): void }>(client: C): C
  /** Runs `fn` in `after`, before the pool ends (dropping the file's tables). */
  cleanup(fn: (pool: pg.Pool) => Promise<unknown>): void
  /** A new audited store table (audited-table.ts) named after `prefix`, on the pool; dropped in `after`. Resolves with its name. */
  auditedTable(prefix: string): Promise<string>
}

/** Registers `after` in the calling file; `args` go to the first server (`start()`). */
export function redisFixture(args: string[] = []): RedisFixture {
  const clients: Array<{ disconnect(): void }> = []
  const servers: OwnRedis[] = []
  const cleanups: Array<(pool: pg.Pool) => Promise<unknown>> = []
  let pool: Promise<pg.Pool> | undefined
  let first: Promise<OwnRedis> | undefined
  const more = async (count: number, extra: string[] = []): Promise<OwnRedis[]> => {
    const started = await Promise.all(Array.from({ length: count }, () => startOwnRedis(extra)))
    servers.push(...started)
    return started
  }
  after(async () => {
    const opened = await pool?.catch(() => undefined)
    try {
      if (opened !== undefined) for (const fn of cleanups) await fn(opened)
    } finally {
      for (const c of clients) c.disconnect()
      await opened?.end()
      await first?.catch(() => undefined)
      await Promise.all(servers.map((s) => s.destroy()))
    }
  })
  return {
    pool: () => (pool ??= pgPool()),
    async start() {
      first ??= more(1, args).then(([server]) => server as OwnRedis)
      return { server: await first, pool: await (pool ??= pgPool()) }
    },
    servers: more,
    track: (client) => (clients.push(client), client),
    cleanup: (fn) => void cleanups.push(fn),
    async auditedTable(prefix) {
      const name = uniqueName(prefix)
      const opened = await (pool ??= pgPool())
      cleanups.push((db) => dropAuditedTable(db, name))
      await createAuditedTable(opened, name)
      return name
    },
  }
}
