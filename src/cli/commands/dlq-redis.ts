/**
 * `writebehind dlq list|drop|replay --redis <url> --name <name>` (or `--redis-cluster
 * <host:port,...> --name <name>`): the dead letters of a Redis tier, in its shard streams. `list` and `drop` without `--yes` only read (plain XRANGE, no lease);
 * `drop --yes` removes the letters by one script per shard (tier/redis/dead-letters.ts), safe while
 * caches run on the tier; `replay` opens a cache on the tier with the store (it joins the tier's
 * flushers for the run) and calls `replayDeadLetters`: original versions, a newer write wins.
 * Redis gets `--timeout-ms` to answer each step (the cache's `commandTimeoutMs` in `replay`): past
 * it, exit 69 (redis-target.ts).
 */
import type { DeadLetterFilter } from '../../contracts/dead-letters.js'
import { deadLetterMatcher } from '../../dead-letters/queue.js'
import { readLetters } from '../../tier/redis/dead-letters.js'
import { formatLetter, plural } from '../letter-format.js'
import { openRedisTarget, type RedisTarget, type RedisWhere } from '../redis-target.js'
import { replayThroughCache } from '../replay-cache.js'
import type { CliStore } from '../store-spec.js'

export interface RedisDlqArgs {
  readonly command: string
  readonly redis: RedisWhere
  readonly json: boolean
  readonly yes: boolean
  readonly filter: DeadLetterFilter | undefined
  /** replay: opens and checks the store `--store`/`--config` names. */
  readonly openStore: () => Promise<CliStore>
}

export async function runOnRedis(args: RedisDlqArgs, out: NodeJS.WritableStream): Promise<number> {
  const target = await openRedisTarget(args.redis)
  try {
    if (args.command === 'replay') return await replay(target, args, out)
    const all = await target.within(readLetters(target.port, target.layout))
    const shown = all.filter(deadLetterMatcher(args.filter))
    if (args.command === 'list') {
      if (args.json) out.write(`${JSON.stringify(shown, null, 2)}\n`)
      else {
        for (const letter of shown) out.write(`${formatLetter(letter)}\n`)
        out.write(`${plural(shown.length)}${shown.length === all.length ? '' : ` (of ${all.length})`}\n`)
      }
      return 0
    }
    if (!args.yes) {
      out.write(`Would drop ${plural(shown.length)}:\n`)
      for (const letter of shown) out.write(`${formatLetter(letter)}\n`)
      out.write('Nothing was dropped. Run again with --yes to drop them.\n')
      return 0
    }
    const { dropLetters } = await import('../../tier/redis/dead-letters.js')
    const dropped = await target.within(dropLetters(target.port, target.layout, shown), 'Some of the letters may have been dropped: run dlq list once it answers.')
    out.write(`Dropped ${plural(dropped)}.\n`)
    return 0
  } finally {
    target.client.disconnect()
  }
}

/** Opens a cache on the tier (on the same client; closing it is ours, after the cache) and replays. */
async function replay(target: RedisTarget, args: RedisDlqArgs, out: NodeJS.WritableStream): Promise<number> {
  const opened = await args.openStore()
  try {
    const { WriteBehindCache } = await import('../../core/write-behind-cache.js')
    const { RedisTier } = await import('../../tier/redis/redis-tier.js')
    const tier = new RedisTier({ client: target.client, name: target.layout.name, shards: target.layout.shards, commandTimeoutMs: target.timeoutMs })
    return await replayThroughCache((options) => WriteBehindCache.open({ ...options, tier, warn: () => {} }), opened, args.filter, out)
  } finally {
    await opened.release()
  }
}
