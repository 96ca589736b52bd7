/**
 * Where a Redis tier's state lives (REDIS-TIER.md, "Layout"). A key belongs to one of `shards`
 * logical shards, fixed when the tier is first created; every Redis key of a shard carries the
 * shard's hash tag, so a script touching one shard stays in one Cluster slot.
 *
 *   {wb:<name>:<s>}:e:<key>   hash: p (payload), ver, st (d dirty | c clean | x dead letter),
 *                              del (1 = tombstone), since (first dirty, ms; read only while
 *                              dirty, left behind by the ack), att (failed attempts
 *                              of this version), ff (its first failure, ms), ttl (the write's own
 *                              ttl once clean, ms; absent: the cache's), te (the trust epoch
 *                              it was made clean at, `trust.ts`)
 *   {wb:<name>:<s>}:dirty     zset: dirty keys by not-before time (ms): the first-dirty time, or
 *                              after a failure the end of its backoff (retry-scripts.ts)
 *   {wb:<name>:<s>}:vers      zset: dirty keys by their first unflushed version (flush() marks)
 *   {wb:<name>:<s>}:retry     set: keys whose entry may hold retry state (att, ff); every dirty
 *                              entry that holds it is a member, so the claim and the ack read
 *                              those two fields only for members (retry-scripts.ts)
 *   {wb:<name>:<s>}:meta      hash: floor (highest version issued in the shard), te (trust
 *                              epoch), rid (the replication id of the node it was last seen on)
 *   {wb:<name>:<s>}:lease     string: the flushing instance's token, with PX
 *   {wb:<name>:<s>}:dlq       stream: dead letters (key, version, del, payload, attempts, first, error, at)
 *   wb:<name>:cfg             hash: shards, format
 *
 * The user's key follows `:e:` verbatim (braces, NUL, anything): the hash tag is the first `{…}`,
 * which is ours.
 */

/** The layout's format; an instance finding another one refuses to start. */
export const FORMAT_VERSION = 1

export class RedisLayout {
  readonly cfg: string
  /** Each shard's key names, made once: a write names four of them (no strings built per write). */
  private readonly names: readonly ShardNames[]

  constructor(
    readonly name: string,
    readonly shards: number,
  ) {
    this.cfg = `wb:${name}:cfg`
    this.names = Array.from({ length: shards }, (_, shard) => shardNames(this.tag(shard)))
  }

  /** The shard of `key`: FNV-1a (32 bits) of its UTF-8 bytes, modulo `shards`. The same in every process. */
  shardOf(key: string): number {
    let hash = 0x811c9dc5
    for (let i = 0; i < key.length; i++) {
      const code = key.charCodeAt(i)
      // Past ASCII, UTF-8 has several bytes per character: hash the encoded bytes instead.
      if (code > 0x7f) return fnv1a(Buffer.from(key.slice(i), 'utf8'), hash) % this.shards
      hash = Math.imul(hash ^ code, 0x01000193) >>> 0
    }
    return hash % this.shards
  }

  tag(shard: number): string {
    return `{wb:${this.name}:${shard}}`
  }

  /** The prefix of a shard's entry keys (the claim script appends the user's key). */
  entryPrefix(shard: number): string {
    return this.namesOf(shard).entries
  }

  entry(shard: number, key: string): string {
    return `${this.entryPrefix(shard)}${key}`
  }

  dirty(shard: number): string {
    return this.namesOf(shard).dirty
  }

  vers(shard: number): string {
    return this.namesOf(shard).vers
  }

  meta(shard: number): string {
    return this.namesOf(shard).meta
  }

  retry(shard: number): string {
    return this.namesOf(shard).retry
  }

  lease(shard: number): string {
    return `${this.tag(shard)}:lease`
  }

  dlq(shard: number): string {
    return `${this.tag(shard)}:dlq`
  }

  private namesOf(shard: number): ShardNames {
    return this.names[shard] ?? shardNames(this.tag(shard))
  }
}

interface ShardNames {
  readonly entries: string
  readonly dirty: string
  readonly vers: string
  readonly meta: string
  readonly retry: string
}

function shardNames(tag: string): ShardNames {
  return { entries: `${tag}:e:`, dirty: `${tag}:dirty`, vers: `${tag}:vers`, meta: `${tag}:meta`, retry: `${tag}:retry` }
}

/** FNV-1a over `bytes`, continuing from `hash`. */
function fnv1a(bytes: Uint8Array, hash: number): number {
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0
  return hash
}
