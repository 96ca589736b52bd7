/**
 * How a Redis tier reports a call Redis did not answer: a lost connection, or a client that gave up
 * reconnecting (ioredis's `maxRetriesPerRequest`), becomes `RedisUnavailableError` naming what was
 * asked (`write`, `read`, `flush`). Redis's own replies (`ReplyError`: a script's error, OOM,
 * READONLY…), a Cluster's refusals (`RedisClusterError`) and the cache's own typed errors pass as
 * they are: they are answers, not silence.
 */
import { RedisClusterError, RedisUnavailableError, WriteBehindError } from '../../errors.js'
import type { RedisOperation } from '../../errors/redis.js'

export function unanswered(error: unknown, operation: RedisOperation, key?: string): unknown {
  if (error instanceof RedisClusterError || error instanceof WriteBehindError || isReplyError(error)) return error
  return new RedisUnavailableError(key, { cause: error, operation })
}

/** An error Redis answered (a script's own error, OOM, NOSCRIPT…), as opposed to a lost connection or a client giving up. */
export function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ReplyError'
}
