/**
 * The small port the Redis tier talks through, so that any client can sit behind it (ioredis
 * first, `ioredis-client.ts`; node-redis later). Each method is one round trip on one connection
 * and says what it returns; none retries a write on its own (a write sent again could apply twice).
 *
 * What it leaves out: Cluster routing (every call here names keys of one hash tag, or none),
 * connection management (the user owns the client and closes it) and reconnect policy.
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
}

/** What `runThenWait` answers: each call's reply or error, in order, and the replicas WAIT counted. */
export interface WaitedReplies {
  readonly replies: ReadonlyArray<{ readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: Error }>
  /** Replicas that acknowledged (with `aof`: fsynced) every write of the connection made before the WAIT. */
  readonly replicas: number
  /** With `aof`: whether the primary fsynced them to its append-only file (WAITAOF's first count). */
  readonly local?: boolean
}

export interface RedisClientPort {
  /**
   * Runs `call` (EVALSHA; on `NOSCRIPT` loads the script and runs it once more, which is safe: a
   * `NOSCRIPT` reply means nothing ran). Rejects with the server's error otherwise.
   */
  run(call: ScriptCall): Promise<unknown>
  /**
   * Runs `calls`, then `WAIT replicas timeoutMs` (with `aof`: `WAITAOF 1 replicas timeoutMs`), as
   * one pipeline on one connection, so that the WAIT covers them (a WAIT on another connection means
   * nothing). Never rejects for a call's own error: each reply says. Rejects when the connection fails.
   */
  runThenWait(calls: readonly ScriptCall[], replicas: number, timeoutMs: number, aof?: boolean): Promise<WaitedReplies>
  /** `SCRIPT LOAD`: puts `script` in the server's cache (done at open, so the first writes need no second round trip). */
  load(script: RedisScript): Promise<void>
  /** `INFO section`, as text. */
  info(section: string): Promise<string>
  /** `CONFIG GET name`: the value, or undefined when the server does not say (unknown name, or CONFIG renamed away). */
  configGet(name: string): Promise<string | undefined>
  /** Whether the server knows `command` (`COMMAND INFO`); false when it does not say. */
  hasCommand(command: string): Promise<boolean>
}
