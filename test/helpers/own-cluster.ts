// A throwaway Redis Cluster for tests: N primaries + N replicas of the installed redis-server on free
// loopback ports (cluster-enabled, cluster-node-timeout 2000, appendonly), each in its own temp dir
// and process group, joined with `redis-cli --cluster create --cluster-replicas 1`. Nodes are
// stopped by pid only (never the shared 6379). Roles change with failovers: ask `role()`.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Cluster, type ClusterOptions, Redis } from 'ioredis'
import { freePort } from './own-servers.js'

const run = promisify(execFile)

export type ClusterRole = 'primary' | 'replica'

export interface ClusterNode {
  readonly port: number
  /** The pid of the current process (changes after `restart()`). */
  readonly pid: number
  /** The node's 40-character cluster id. */
  id(): Promise<string>
  /** Its role now, as the node itself reports it (`ROLE`). */
  role(): Promise<ClusterRole>
  /** A plain (non-cluster) ioredis client on this node (the caller disconnects it). */
  client(): Redis
  /** SIGSTOP / SIGCONT: a stalled node. */
  pause(): void
  resume(): void
  /** SIGKILLs the node's process group and waits for it to exit. */
  crash(): Promise<void>
  /** Starts it again on the same dir, port and nodes.conf; resolves once it answers PING. */
  restart(): Promise<void>
  readonly running: boolean
}

export interface OwnCluster {
  readonly nodes: readonly ClusterNode[]
  readonly startupNodes: readonly { host: string; port: number }[]
  /** A new ioredis Cluster client on it (the caller quits it). */
  client(options?: ClusterOptions): Cluster
  /** The running nodes that report the role now. */
  primaries(): Promise<ClusterNode[]>
  replicas(): Promise<ClusterNode[]>
  /** The node that owns `slot` (per the running nodes' CLUSTER SLOTS). */
  ownerOf(slot: number): Promise<ClusterNode>
  /** The hash slot of a key (CLUSTER KEYSLOT). */
  slotOf(key: string): Promise<number>
  /** The running replicas of a primary. */
  replicasOf(primary: ClusterNode): Promise<ClusterNode[]>
  /** CLUSTER FAILOVER on a replica (default mode; 'FORCE' or 'TAKEOVER' when the primary is down), then `settle()`. */
  failover(replica: ClusterNode, mode?: 'FORCE' | 'TAKEOVER'): Promise<void>
  /**
   * Moves `slot` to the primary `to` as `redis-cli --cluster reshard` does: IMPORTING on `to`,
   * MIGRATING on its owner, MIGRATE of its keys `batch` at a time (`pauseMs` apart, so clients meet
   * the ASK/TRYAGAIN window; `first` before the rest), then SETSLOT NODE on every primary, then
   * `settle()`. Resolves with how many keys moved.
   */
  migrateSlot(slot: number, to: ClusterNode, options?: { batch?: number; pauseMs?: number; first?: readonly string[] }): Promise<number>
  /** Waits until every running node says cluster_state:ok and every slot's owner is a running primary. */
  settle(timeoutMs?: number): Promise<void>
  /** Crashes every node and deletes their dirs. */
  destroy(): Promise<void>
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function ask<T>(port: number, use: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 })
  client.on('error', () => {})
  try {
    await client.connect()
    return await use(client)
  } finally {
    client.disconnect()
  }
}

async function until(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last: Error | undefined
  for (;;) {
    try {
      if (await probe()) return
    } catch (error) {
      last = error instanceof Error ? error : new Error(String(error))
    }
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms${last === undefined ? '' : `: ${last.message}`}`)
    await sleep(100)
  }
}

function ownNode(port: number, dir: string, extraArgs: string[]): ClusterNode & { start(): Promise<void>; dir: string } {
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes',
    '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000',
    '--logfile', 'redis.log', ...extraArgs,
  ] // prettier-ignore
  let child: ChildProcess | undefined
  const alive = (): ChildProcess | undefined => (child !== undefined && child.exitCode === null && child.signalCode === null ? child : undefined)
  const start = async (): Promise<void> => {
    if (alive() !== undefined) return
    child = spawn('redis-server', args, { stdio: 'ignore', detached: true })
    await until(`redis-server on ${port} answering PING`, 20_000, () => ask(port, async (c) => (await c.ping()) === 'PONG'))
  }
  return {
    port,
    dir,
    start,
    get pid() {
      return child?.pid ?? -1
    },
    get running() {
      return alive() !== undefined
    },
    id: () => ask(port, async (c) => String(await c.call('CLUSTER', 'MYID'))),
    role: () => ask(port, async (c) => (((await c.call('ROLE')) as [string])[0] === 'master' ? 'primary' : 'replica')),
    client: () => new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 }).on('error', () => {}),
    pause: () => process.kill(child?.pid as number, 'SIGSTOP'),
    resume: () => process.kill(child?.pid as number, 'SIGCONT'),
    async crash() {
      const running = alive()
      if (running?.pid === undefined) return
      const exited = new Promise((resolve) => running.once('exit', resolve))
      process.kill(running.pid, 'SIGCONT')
      // The whole group: an AOF rewrite's forked child would otherwise go on writing in the dir.
      process.kill(-running.pid, 'SIGKILL')
      await exited
    },
    restart: start,
  }
}

/** Starts `primaries` primaries with one replica each (6 nodes by default) and waits for cluster_state:ok. */
export async function startOwnCluster(options: { primaries?: number; extraArgs?: string[] } = {}): Promise<OwnCluster> {
  const count = (options.primaries ?? 3) * 2
  const nodes: ReturnType<typeof ownNode>[] = []
  const destroy = async (): Promise<void> => {
    for (const node of nodes) {
      await node.crash()
      rmSync(node.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 })
    }
  }
  try {
    for (let i = 0; i < count; i++) {
      nodes.push(ownNode(await freePort(), mkdtempSync(join(tmpdir(), 'wb-cluster-')), options.extraArgs ?? []))
    }
    await Promise.all(nodes.map((node) => node.start()))
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`)
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'], { timeout: 60_000 })
  } catch (error) {
    await destroy()
    throw error
  }
  const byPort = new Map(nodes.map((node) => [node.port, node]))
  const running = (): ClusterNode[] => nodes.filter((node) => node.running)
  const withRole = async (role: ClusterRole): Promise<ClusterNode[]> => {
    const out: ClusterNode[] = []
    for (const node of running()) if ((await node.role().catch(() => undefined)) === role) out.push(node)
    return out
  }
  const slotOwners = async (port: number): Promise<Map<number, number>> => {
    const ranges = (await ask(port, (c) => c.call('CLUSTER', 'SLOTS'))) as [number, number, [string, number]][]
    const owners = new Map<number, number>()
    for (const [from, to, [, owner]] of ranges) for (let slot = from; slot <= to; slot++) owners.set(slot, owner)
    return owners
  }
  const settle = async (timeoutMs = 30_000): Promise<void> => {
    await until('every running node with cluster_state:ok and one slot map served by running primaries', timeoutMs, async () => {
      const live = running()
      let reference: string | undefined
      for (const node of live) {
        const info = await ask(node.port, (c) => c.call('CLUSTER', 'INFO'))
        if (!String(info).includes('cluster_state:ok')) return false
        const owners = await slotOwners(node.port)
        if (owners.size !== 16384) return false
        for (const owner of new Set(owners.values())) if (byPort.get(owner)?.running !== true) return false
        const map = JSON.stringify([...owners.entries()].filter(([slot]) => slot % 64 === 0))
        if (reference !== undefined && map !== reference) return false
        reference = map
      }
      for (const replica of await withRole('replica')) {
        const info = String(await ask(replica.port, (c) => c.info('replication')))
        if (!info.includes('master_link_status:up')) return false
      }
      return true
    })
  }
  const cluster: OwnCluster = {
    nodes,
    startupNodes: nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
    client: (clientOptions) => new Cluster(cluster.startupNodes as { host: string; port: number }[], clientOptions).on('error', () => {}),
    primaries: () => withRole('primary'),
    replicas: () => withRole('replica'),
    async ownerOf(slot) {
      const live = running()[0]
      if (live === undefined) throw new Error('no node is running')
      const owner = (await slotOwners(live.port)).get(slot)
      const node = owner === undefined ? undefined : byPort.get(owner)
      if (node === undefined) throw new Error(`slot ${slot} has no owner`)
      return node
    },
    async slotOf(key) {
      const live = running()[0]
      if (live === undefined) throw new Error('no node is running')
      return Number(await ask(live.port, (c) => c.call('CLUSTER', 'KEYSLOT', key)))
    },
    async replicasOf(primary) {
      const id = await primary.id()
      const out: ClusterNode[] = []
      for (const replica of await withRole('replica')) {
        const info = String(await ask(replica.port, (c) => c.call('CLUSTER', 'NODES')))
        const myself = info.split('\n').find((line) => line.includes('myself'))
        if (myself?.split(' ')[3] === id) out.push(replica)
      }
      return out
    },
    async failover(replica, mode) {
      await ask(replica.port, (c) => c.call('CLUSTER', 'FAILOVER', ...(mode === undefined ? [] : [mode])))
      await until(`node ${replica.port} promoted`, 30_000, async () => (await replica.role()) === 'primary')
      await settle()
    },
    async migrateSlot(slot, to, migration = {}) {
      const from = await cluster.ownerOf(slot)
      if (from === to) return 0
      const [fromId, toId] = [await from.id(), await to.id()]
      const [source, target] = [from.client(), to.client()]
      let moved = 0
      try {
        await target.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId)
        await source.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId)
        const first = [...(migration.first ?? [])]
        for (;;) {
          const keys = first.length > 0 ? first.splice(0, migration.batch ?? 10) : ((await source.call('CLUSTER', 'GETKEYSINSLOT', slot, migration.batch ?? 10)) as string[])
          if (keys.length === 0) break
          if ((await source.call('MIGRATE', '127.0.0.1', to.port, '', 0, 5000, 'KEYS', ...keys)) === 'OK') moved += keys.length
          if ((migration.pauseMs ?? 0) > 0) await sleep(migration.pauseMs ?? 0)
        }
      } finally {
        source.disconnect()
        target.disconnect()
      }
      await ask(to.port, (c) => c.call('CLUSTER', 'SETSLOT', slot, 'NODE', toId))
      await ask(from.port, (c) => c.call('CLUSTER', 'SETSLOT', slot, 'NODE', toId))
      for (const node of await withRole('primary')) await ask(node.port, (c) => c.call('CLUSTER', 'SETSLOT', slot, 'NODE', toId))
      await settle()
      return moved
    },
    settle,
    destroy,
  }
  await settle(60_000)
  return cluster
}
