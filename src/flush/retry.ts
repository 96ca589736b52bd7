/**
 * Retry policy for failed flushes: exponential backoff with full jitter, and the classification
 * of errors into retryable (an outage: try again later) and permanent (bad data: dead-letter it).
 * Pure functions, no timers: the caller schedules the delay on its own `Clock`.
 */

import type { ErrorDescription } from '../contracts/dead-letters.js'
import { InvalidKeyError, InvalidValueError } from '../errors.js'
import { checkNumber } from '../validate/check.js'

/** How failed batches are retried. */
export interface RetryPolicy {
  /** Delay bound of the first retry; each further retry doubles it. */
  baseDelayMs: number
  /** Cap on the delay bound of any one retry. */
  maxDelayMs: number
  /** Attempts (first try included) before an entry is dead-lettered. */
  maxAttempts: number
}

/**
 * Longest message kept in a description. A database error can quote the whole failed batch, and
 * the description is stored with every dead letter of that batch.
 */
export const MAX_MESSAGE_LENGTH = 2_000

/** How deep a `cause` chain is followed (a cycle must not hang us). */
const MAX_CAUSE_DEPTH = 16

/**
 * The delay before retry number `attempt` (1 = the first retry), in whole milliseconds: a uniform
 * draw in `[0, min(maxDelayMs, baseDelayMs * 2^(attempt-1)))` ("full jitter"). `random` defaults to
 * `Math.random`; pass a seeded one for a deterministic schedule.
 */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  checkNumber(attempt, 'attempt', { min: 1, integer: true, required: true })
  validatePolicy(policy)
  return Math.floor(random() * backoffCeiling(attempt, policy))
}

/** The upper bound of the backoff for retry number `attempt` (before jitter). */
export function backoffCeiling(attempt: number, policy: RetryPolicy): number {
  // 2^(attempt-1) overflows to Infinity for huge attempts; min() with the cap keeps it finite.
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1))
}

/** Throws an `InvalidOptionError` naming the first bad field of a retry policy. */
export function validatePolicy(policy: RetryPolicy): void {
  checkNumber(policy.baseDelayMs, 'retry.baseDelayMs', { min: 0, finite: true, required: true })
  checkNumber(policy.maxDelayMs, 'retry.maxDelayMs', { min: 0, finite: true, required: true })
  checkNumber(policy.maxAttempts, 'retry.maxAttempts', { min: 1, integer: true, required: true })
}

/**
 * Whether retrying can help. The first error in the `cause` chain that carries a boolean
 * `retryable` property decides (a `StoreError` has one). Otherwise programming and data errors
 * (`TypeError`, `RangeError`, `SyntaxError`, `InvalidKeyError`, `InvalidValueError`) are
 * permanent, and everything else (lost connections, timeouts, deadlocks) is retryable.
 */
export function isRetryable(error: unknown): boolean {
  const flagged = findRetryableFlag(error)
  if (flagged !== undefined) return flagged
  return !PERMANENT_ERRORS.some((type) => error instanceof type)
}

/** Error classes that no retry can fix, when the error does not say otherwise. */
const PERMANENT_ERRORS = [TypeError, RangeError, SyntaxError, InvalidKeyError, InvalidValueError]

function findRetryableFlag(error: unknown): boolean | undefined {
  let current: unknown = error
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && isObject(current); depth++) {
    const flag = readProperty(current, 'retryable')
    if (typeof flag === 'boolean') return flag
    current = readProperty(current, 'cause')
  }
  return undefined
}

/**
 * A JSON-safe `{ name, code?, message, retryable }` for any thrown value (errors or not); the
 * message is cut at `MAX_MESSAGE_LENGTH` characters.
 */
export function describeError(error: unknown): ErrorDescription {
  const retryable = isRetryable(error)
  if (!isObject(error)) return { name: typeof error, message: clip(safeString(error)), retryable }
  const name = readProperty(error, 'name')
  const message = readProperty(error, 'message')
  const code = readProperty(error, 'code')
  const description: ErrorDescription = {
    name: typeof name === 'string' && name !== '' ? name : 'Error',
    message: clip(typeof message === 'string' ? message : safeString(error)),
    retryable,
  }
  if (typeof code === 'string' || typeof code === 'number') description.code = String(code)
  return description
}

function isObject(value: unknown): value is object {
  return (typeof value === 'object' && value !== null) || typeof value === 'function'
}

/** Reads a property without letting a throwing getter or proxy escape. */
function readProperty(target: object, name: string): unknown {
  try {
    return (target as Record<string, unknown>)[name]
  } catch {
    return undefined
  }
}

function clip(message: string): string {
  return message.length <= MAX_MESSAGE_LENGTH ? message : `${message.slice(0, MAX_MESSAGE_LENGTH - 1)}…`
}

function safeString(value: unknown): string {
  try {
    return String(value)
  } catch {
    return '[unprintable]'
  }
}
