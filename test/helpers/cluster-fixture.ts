// A test file's own Redis Cluster (own-cluster.ts) and the shared PostgreSQL pool, with the
// node:test hooks that start and stop them: one place for what every Cluster test file needs.
import { after } from 'node:test'
import type { Cluster } from 'ioredis'
import type pg from 'pg'
import { startOwnCluster, type OwnCluster } from './own-cluster.js'
import { pgPool } from './store-servers.js'

/** A test file's own cluster and the shared PostgreSQL pool (`clusterFixture`). */
export interface ClusterFixture {
  /** Starts the cluster and opens the pool, once (call it in the file's `before`). */
  start(): Promise<{ cluster: OwnCluster; pool: pg.Pool }>
  /** A new Cluster client, disconnected in `after`. */
  client(): Cluster
  /** `client` (a node's or the Cluster's), disconnected in `after`. */
  track<C extends { disconnect(): void }>(client: C): C
}

/**
 * Registers `after` in the calling file (disconnect every client handed out, end the pool, destroy
 * the cluster); `start()` in the file's `before` starts them.
 */
export function clusterFixture(options?: Parameters<typeof startOwnCluster>[0]): ClusterFixture {
  const clients: Array<{ disconnect(): void }> = []
  let started: Promise<{ cluster: OwnCluster; pool: pg.Pool }> | undefined
  after(async () => {
    for (const c of clients) c.disconnect()
    const running = await started?.catch(() => undefined)
    await running?.pool.end()
    await running?.cluster.destroy()
  })
  const track = <C extends { disconnect(): void }>(client: C): C => (clients.push(client), client)
  let current: OwnCluster | undefined
  return {
    start: () =>
      (started ??= (async () => {
        const cluster = await startOwnCluster(options)
        current = cluster
        return { cluster, pool: await pgPool() }
      })()),
    client: () => {
      if (current === undefined) throw new Error('start the cluster first: await fixture.start() in before()')
      return track(current.client())
    },
    track,
  }
}
