/**
 * The small port the Redis tier talks through, so that any client can sit behind it: ioredis
 * (`ioredis-client.ts`, `ioredis-cluster-client.ts`) and node-redis (`node-redis-client.ts`), the
 * two single-server ports sharing what does not depend on the client (`one-server-port.ts`). Each
 * method is one round trip on one connection and says what it returns; none retries a write on its
 * own (a write sent again could apply twice). The helpers at the end are the protocol every port
 * speaks (EVALSHA's arguments, the WAIT that ends a `replicated` pipeline, NOSCRIPT).
 *
 * Every script call names keys of one hash tag (one Cluster slot). A Cluster port routes each call
 * to its slot's primary and checks that rule (`ioredis-cluster-client.ts`).
 *
 * What it leaves out: connection management (the user owns the client and closes it) and
 * reconnect policy.
 */

/** A Lua script the port may run by SHA, loading it on `NOSCRIPT`. */
export interface RedisScript {
  readonly name: string
  readonly source: string
  /** SHA-1 of `source`, hex (what EVALSHA takes). */
  readonly sha: string
}

/** One script call: its keys (all of one hash tag) and arguments. */
export interface ScriptCall {
  readonly script: RedisScript
  readonly keys: readonly string[]
  readonly args: ReadonlyArray<string | number>
  /** Bulk strings in the reply come as Buffers (a script that packs its reply, `msgpack.ts`), not as strings. */
  readonly binary?: boolean
}

/**
 * What `runThenWait` answers: each call's reply or error, in order. `replicas` is what the WAIT
 * after it counted on the call's own primary: the replicas that acknowledged (with `aof`: fsynced)
 * every write made on that connection before the WAIT (on a Cluster, each primary has its own
 * replicas). `local`, with `aof` only: whether that primary fsynced them to its append-only file
 * (WAITAOF's first count).
 */
export interface WaitedReplies {
  readonly replies: ReadonlyArray<{ readonly ok: true; readonly value: unknown; readonly replicas: number; readonly local?: boolean } | { readonly ok: false; readonly error: Error }>
}

/** One primary the tier's keys live on, for the checks at open. */
export interface RedisServerPort {
  /** How messages name it (`host:port`, or "the Redis server" when there is one). */
  readonly address: string
  /** `INFO section`, as text. */
  info(section: string): Promise<string>
  /** `CONFIG GET name`: the value, or undefined when the server does not say (unknown name, or CONFIG renamed away). */
  configGet(name: string): Promise<string | undefined>
  /** Whether the server knows `command` (`COMMAND INFO`); false when it does not say. */
  hasCommand(command: string): Promise<boolean>
}

export interface RedisClientPort {
  /**
   * How many times a script was missing from a server's cache (`NOSCRIPT`) and was loaded again so
   * far: a server restarted, or a replica was promoted (`trust.ts` checks for a failover then).
   */
  readonly reloads: number
  /**
   * Runs `call` (EVALSHA; on `NOSCRIPT` loads the script and runs it once more, which is safe: a
   * `NOSCRIPT` reply means nothing ran). Rejects with the server's error otherwise.
   */
  run(call: ScriptCall): Promise<unknown>
  /**
   * Runs `calls`, then `WAIT replicas timeoutMs` (with `aof`: `WAITAOF 1 replicas timeoutMs`), as
   * one pipeline on one connection, so that the WAIT covers them (a WAIT on another connection
   * means nothing); on a Cluster, one such pipeline per primary. Never rejects for a call's own
   * error: each reply says. Rejects when the connection fails (a Cluster port reports that in the
   * replies of that primary's calls).
   */
  runThenWait(calls: readonly ScriptCall[], replicas: number, timeoutMs: number, aof?: boolean): Promise<WaitedReplies>
  /**
   * The primary that runs `call`, as the client now sees it (`host:port` on a Cluster; '' for a single
   * server). Writes waiting for replicas are grouped by it, so that a slow or failing primary holds
   * up only its own writes.
   */
  ownerOf(call: ScriptCall): string
  /**
   * A plain read command on the primary owning `key` (no script, writes nothing: `XRANGE` of a
   * dead-letter stream), its bulk strings as strings.
   */
  read(command: string, key: string, ...args: string[]): Promise<unknown>
  /** `SCRIPT LOAD`: puts `script` in the server's cache, on every node of a Cluster (done at open, so the first writes need no second round trip). */
  load(script: RedisScript): Promise<void>
  /** The primaries: the one server (standalone, Sentinel), or every primary of a Cluster as it now stands. */
  primaries(): Promise<RedisServerPort[]>
}

/** The command that ends a `replicated` pipeline: `WAIT replicas timeout`, or `WAITAOF 1 replicas timeout` (`aof`). */
export function waitCommand(replicas: number, timeoutMs: number, aof: boolean): [string, ...number[]] {
  return aof ? ['WAITAOF', 1, replicas, timeoutMs] : ['WAIT', replicas, timeoutMs]
}

/** What a WAIT (a count) or a WAITAOF (`[local, replicas]`) reply confirmed. */
export function waitCounts(reply: unknown, aof: boolean): { replicas: number; local?: boolean } {
  if (!aof) return { replicas: Number(reply) }
  const [local, fsynced] = reply as [number, number]
  return { replicas: Number(fsynced), local: Number(local) >= 1 }
}

export function evalArgs(call: ScriptCall): Array<string | number> {
  return [call.script.sha, call.keys.length, ...call.keys, ...call.args]
}

export function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT')
}
