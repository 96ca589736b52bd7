/**
 * What the flush scheduler reads synchronously of a tier that lives in Redis: how many keys are
 * dirty across the whole tier (every process's writes), per shard, the lowest unflushed version,
 * the oldest dirty time and the highest version issued by any instance (what `flush()` covers). Read from Redis by `refresh()` (one stats script per shard), and kept
 * honest between refreshes by this process's own writes: a version written after the refresh was
 * sent counts as waiting until a later refresh saw it, so `flush()` never resolves early.
 */
export interface ShardStats {
  readonly dirty: number
  readonly lowestVersion: number | undefined
  readonly oldestMs: number | undefined
  readonly deadLetters: number
  /** The highest version issued in the shard (by any instance). */
  readonly floor: number
}

export class TierSnapshot {
  /** Dirty keys per shard, as last read (plus this process's newly dirty keys since). */
  readonly perShard: number[]
  private lowest: number | undefined
  private oldest: number | undefined
  deadLetters = 0
  /** The highest version issued across the tier, as last read (never lowered). */
  highestIssued = 0
  /** The lowest version this process wrote since the current snapshot's read was sent. */
  private unseen = Infinity
  /** The same, since the read now out was sent (becomes `unseen` when it answers). */
  private unseenDuring = Infinity
  private running: Promise<void> | undefined
  private queued: Promise<void> | undefined

  constructor(
    shards: number,
    private readonly read: () => Promise<ShardStats[]>,
  ) {
    this.perShard = new Array<number>(shards).fill(0)
  }

  get waiting(): number {
    return this.perShard.reduce((a, b) => a + b, 0)
  }

  lowestWaiting(): number | undefined {
    const lowest = Math.min(this.lowest ?? Infinity, this.unseen)
    return lowest === Infinity ? undefined : lowest
  }

  oldestWaiting(): number | undefined {
    return this.oldest
  }

  /** This process wrote `version` into `shard`; `newlyDirty` when the key was clean before. */
  noteWrite(shard: number, version: number, newlyDirty: boolean, now: number): void {
    this.unseen = Math.min(this.unseen, version)
    if (this.running !== undefined) this.unseenDuring = Math.min(this.unseenDuring, version)
    if (newlyDirty) this.perShard[shard] = (this.perShard[shard] ?? 0) + 1
    this.oldest ??= now
  }

  /**
   * Reads the tier's state again. A call made while a read is out gets the read after it (one
   * that started after the call), so a caller that just acknowledged writes sees them.
   */
  refresh(): Promise<void> {
    if (this.queued !== undefined) return this.queued
    if (this.running === undefined) return this.start()
    this.queued = this.running
      .catch(() => {})
      .then(() => {
        this.queued = undefined
        return this.start()
      })
    return this.queued
  }

  private start(): Promise<void> {
    this.unseenDuring = Infinity
    const running = (this.running = this.read()
      .then((shards) => {
        shards.forEach((s, i) => (this.perShard[i] = s.dirty))
        this.lowest = min(shards.map((s) => s.lowestVersion))
        this.oldest = min(shards.map((s) => s.oldestMs))
        this.deadLetters = shards.reduce((n, s) => n + s.deadLetters, 0)
        this.highestIssued = Math.max(this.highestIssued, ...shards.map((s) => s.floor))
        this.unseen = this.unseenDuring
      })
      .finally(() => {
        if (this.running === running) this.running = undefined
      }))
    return running
  }
}

function min(values: ReadonlyArray<number | undefined>): number | undefined {
  let lowest: number | undefined
  for (const v of values) if (v !== undefined && (lowest === undefined || v < lowest)) lowest = v
  return lowest
}
