/**
 * Redis Cluster for the fault harness: 3 primaries and 3 replicas of its own (own-cluster.ts), the
 * same faults as standalone Redis (redis-pair.ts) aimed at a node picked with the run's RNG, each
 * ending with the cluster settled (`cluster_state:ok`, every slot served by a running primary).
 * The cluster promotes replicas by itself, so what a failover cost is not measured at the moment of
 * the promotion here (the apps reach the new primary as soon as it is promoted); the end-of-run
 * check still counts every loss, as the key set moves on and nothing hides it.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { startOwnCluster, type ClusterNode, type OwnCluster } from '../helpers/own-cluster.js'
import type { RedisFaults } from './nemesis.js'
import { cutOffReplicas } from './redis-pair.js'

/** How long a cluster may take to settle after a fault. */
const SETTLE_MS = 60_000

export class RedisClusterFaults implements RedisFaults {
  private constructor(
    readonly cluster: OwnCluster,
    private readonly random: () => number,
  ) {}

  static async start(random: () => number): Promise<RedisClusterFaults> {
    return new RedisClusterFaults(await startOwnCluster({ primaries: 3 }), random)
  }

  /** A primary SIGKILLed; its replica is promoted by the cluster; it comes back `downMs` later as a replica. */
  async killPrimary(downMs: number): Promise<void> {
    const primary = await this.pick(this.cluster.primaries())
    await primary.crash()
    await sleep(downMs)
    await this.cluster.settle(SETTLE_MS)
    await primary.restart()
    await this.cluster.settle(SETTLE_MS)
  }

  /** `CLUSTER FAILOVER` on a replica (coordinated: the primary waits for it to catch up). */
  async failover(): Promise<void> {
    await this.cluster.failover(await this.pick(this.cluster.replicas()))
  }

  /** A replica stalled and cut off from its primary for `lagMs`, then the primary dies and the stale replica takes over. */
  async laggingFailover(lagMs: number): Promise<void> {
    const primary = await this.pick(this.cluster.primaries())
    const replica = (await this.cluster.replicasOf(primary))[0]
    if (replica === undefined) return this.killPrimary(lagMs)
    replica.pause()
    await cutOffReplicas(primary.client())
    await sleep(lagMs)
    await primary.crash()
    replica.resume()
    await this.cluster.failover(replica, 'TAKEOVER')
    await primary.restart()
    await this.cluster.settle(SETTLE_MS)
  }

  async killReplica(downMs: number): Promise<void> {
    const replica = await this.pick(this.cluster.replicas())
    await replica.crash()
    await sleep(downMs)
    await replica.restart()
    await this.cluster.settle(SETTLE_MS)
  }

  async pauseReplica(forMs: number): Promise<void> {
    const replica = await this.pick(this.cluster.replicas())
    replica.pause()
    await sleep(forMs)
    replica.resume()
    await this.cluster.settle(SETTLE_MS)
  }

  async heal(): Promise<void> {
    for (const node of this.cluster.nodes) {
      if (node.running) node.resume()
      else await node.restart()
    }
    await this.cluster.settle(SETTLE_MS)
  }

  async destroy(): Promise<void> {
    await this.cluster.destroy()
  }

  private async pick(nodes: Promise<ClusterNode[]>): Promise<ClusterNode> {
    const list = await nodes
    const node = list[Math.floor(this.random() * list.length)]
    if (node === undefined) throw new Error('no running node of that role in the cluster')
    return node
  }
}
