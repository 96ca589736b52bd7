/**
 * Standalone Redis for the fault harness: a primary and a replica of the harness's own (own-redis.ts,
 * AOF on), reached through one address that a failover moves (a FaultProxy, as a virtual IP or a
 * managed endpoint would: the apps' connections are cut and reconnect to the new primary).
 *
 * Failovers: `killPrimary` SIGKILLs the primary, waits (detection), promotes the replica (`REPLICAOF
 * NO ONE`), moves the address, and brings the old primary back as the new replica (its AOF is
 * replaced by a full sync: whatever it had that the replica lacked is gone). `failover` promotes
 * the replica while the primary still runs, without waiting for it to catch up (a forced failover:
 * writes the replica had not received are lost, as after a real partition). `laggingFailover`
 * promotes a replica that was cut off for a while.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import { FaultProxy } from '../helpers/fault-proxy.js'
import { promote, replicate, startOwnRedis, type OwnRedis } from '../helpers/own-redis.js'
import type { RedisFaults } from './nemesis.js'

/** Closes a primary's links to its replicas (`CLIENT KILL TYPE replica`) through `admin`, then disconnects it. */
export async function cutOffReplicas(admin: Redis): Promise<void> {
  try {
    await admin.call('CLIENT', 'KILL', 'TYPE', 'replica')
  } finally {
    admin.disconnect()
  }
}

export class RedisPair implements RedisFaults {
  /**
   * Called by every failover once the replica is promoted and before the address moves to it (no
   * app can reach it yet): what it holds then is what the failover kept.
   */
  onPromoted: (promoted: OwnRedis) => Promise<void> = async () => {}

  private constructor(
    private primaryServer: OwnRedis,
    private replicaServer: OwnRedis,
    private readonly proxy: FaultProxy,
    /** The address the apps use: always the primary. */
    readonly url: string,
  ) {}

  static async start(): Promise<RedisPair> {
    const primary = await startOwnRedis()
    const replica = await startOwnRedis()
    await replicate(replica, primary)
    const proxy = new FaultProxy('127.0.0.1', primary.port)
    const port = await proxy.listen()
    return new RedisPair(primary, replica, proxy, `redis://127.0.0.1:${port}`)
  }

  get primary(): OwnRedis {
    return this.primaryServer
  }

  get replica(): OwnRedis {
    return this.replicaServer
  }

  async killPrimary(downMs: number): Promise<void> {
    const old = this.primaryServer
    await old.crash()
    await sleep(downMs)
    await this.promoteReplica()
    await old.restart()
    await this.rejoin()
  }

  async failover(): Promise<void> {
    await this.promoteReplica()
    await this.rejoin()
  }

  /**
   * The replica stalls (SIGSTOP) and loses its link (`CLIENT KILL TYPE replica` on the primary), the
   * primary goes on alone for `lagMs`, then dies (SIGKILL) and the stale replica is promoted: every
   * write of those `lagMs` is gone (the brief's recipe for losing an acknowledged write on purpose).
   */
  async laggingFailover(lagMs: number): Promise<void> {
    const old = this.primaryServer
    this.replicaServer.pause()
    await cutOffReplicas(old.client())
    await sleep(lagMs)
    await old.crash()
    this.replicaServer.resume()
    await this.promoteReplica()
    await old.restart()
    await this.rejoin()
  }

  async killReplica(downMs: number): Promise<void> {
    await this.replicaServer.crash()
    await sleep(downMs)
    await this.replicaServer.restart()
    await replicate(this.replicaServer, this.primaryServer)
  }

  async pauseReplica(forMs: number): Promise<void> {
    this.replicaServer.pause()
    await sleep(forMs)
    this.replicaServer.resume()
  }

  /** Both running, the replica's link up. */
  async heal(): Promise<void> {
    this.primaryServer.resume()
    this.replicaServer.resume()
    await replicate(this.replicaServer, this.primaryServer)
  }

  /** A client on the primary itself (not through the moving address). */
  client(): Redis {
    return this.primaryServer.client()
  }

  async destroy(): Promise<void> {
    await this.proxy.close()
    await this.primaryServer.destroy()
    await this.replicaServer.destroy()
  }

  /** The replica becomes the primary and the address moves to it; the old primary is now the replica (not yet attached). */
  private async promoteReplica(): Promise<void> {
    await promote(this.replicaServer)
    await this.onPromoted(this.replicaServer)
    // The address moves: open connections are cut, new ones reach the promoted server.
    this.proxy.cut()
    this.proxy.retarget(this.replicaServer.port)
    this.proxy.restore()
    ;[this.primaryServer, this.replicaServer] = [this.replicaServer, this.primaryServer]
  }

  /** The old primary follows the new one (a full sync replaces what it held). */
  private async rejoin(): Promise<void> {
    await replicate(this.replicaServer, this.primaryServer)
  }
}
