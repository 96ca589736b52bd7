// What a caller of the Redis tier gets when Redis does not answer (down, or paused past commandTimeoutMs).
import assert from 'node:assert/strict'
import { RedisUnavailableError } from '../../src/errors.js'

/** `error` is a `RedisUnavailableError` of `operation`, for `key`, with `applied`, and the client's error as its cause. */
export function assertUnavailable(error: unknown, operation: string, key: string | undefined, applied: 'unknown' | undefined): void {
  assert.ok(error instanceof RedisUnavailableError, `a RedisUnavailableError, not ${String(error)}`)
  assert.equal(error.code, 'E_REDIS_UNAVAILABLE')
  assert.equal(error.operation, operation)
  assert.equal(error.key, key)
  assert.equal(error.applied, applied)
  assert.ok(error.cause instanceof Error, 'the client’s error is its cause')
}
