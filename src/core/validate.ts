/**
 * Checks at the door of every write: a key is a non-empty string within `maxKeyBytes`; a value
 * must encode with the codec and fit `maxValueBytes`. A failure throws a typed error before
 * anything is applied.
 */
import { DURABILITIES, type Durability, type WriteOptions } from '../contracts/options.js'
import { InvalidKeyError, InvalidOptionError, InvalidValueError } from '../errors.js'
import { oneOf } from '../validate/check.js'
import { checkWriteOptionNames } from './option-names.js'
import { checkExpiryMs, type ResolvedOptions } from './resolve-options.js'

/** `String.prototype.isWellFormed` (Node 20; the TypeScript lib here predates it). */
type WellFormed = string & { isWellFormed(): boolean }

/**
 * `checkKey` and `encodeValue` run on every write: each is one short test that a valid input
 * passes, with the refusals (and their messages) in functions of their own, so that V8 inlines
 * the test into the write path instead of calling it.
 */
export function checkKey(key: unknown, maxKeyBytes: number): asserts key is string {
  // `length * 3`: at most 3 UTF-8 bytes per UTF-16 unit, so a key this short fits without counting.
  if (typeof key !== 'string' || key.length === 0 || key.length * 3 > maxKeyBytes || !(key as WellFormed).isWellFormed()) refuseKey(key, maxKeyBytes)
}

/** The slow half of `checkKey`: throws the refusal, or returns for a long key that still fits. */
function refuseKey(key: unknown, maxKeyBytes: number): void {
  if (typeof key !== 'string') throw new InvalidKeyError(key, `expected a string, got ${key === null ? 'null' : typeof key}`)
  if (key.length === 0) throw new InvalidKeyError(key, 'the key is empty')
  if (utf8Exceeds(key, maxKeyBytes)) throw new InvalidKeyError(key, `the key is longer than maxKeyBytes (${maxKeyBytes} bytes)`)
  // A lone surrogate has no UTF-8 form: the log and the stores would turn it into U+FFFD, a different key.
  if (!(key as WellFormed).isWellFormed()) throw new InvalidKeyError(key, 'the key holds a lone UTF-16 surrogate (not valid Unicode)')
}

/** Encodes `value` with the cache's codec, or throws `InvalidValueError`. */
export function encodeValue(key: string, value: unknown, options: Pick<ResolvedOptions, 'codec' | 'maxValueBytes'>): string {
  let encoded: unknown
  try {
    encoded = options.codec.encode(value)
  } catch (error) {
    throw unencodable(key, error)
  }
  if (typeof encoded !== 'string' || encoded.length * 3 > options.maxValueBytes) return checkEncoded(key, encoded, options)
  return encoded
}

function unencodable(key: string, error: unknown): InvalidValueError {
  return new InvalidValueError(key, error instanceof Error ? error.message : String(error), { cause: error })
}

/** The slow half of `encodeValue`: not text, or long enough that its UTF-8 bytes must be counted. */
function checkEncoded(key: string, encoded: unknown, options: Pick<ResolvedOptions, 'codec' | 'maxValueBytes'>): string {
  if (typeof encoded !== 'string') throw new InvalidValueError(key, `the ${options.codec.name} codec did not produce text for it`)
  if (utf8Exceeds(encoded, options.maxValueBytes)) {
    throw new InvalidValueError(key, `the encoded value is larger than maxValueBytes (${options.maxValueBytes} bytes)`)
  }
  return encoded
}

/** Whether `text` is longer than `limit` UTF-8 bytes; counts bytes only when it could be. */
function utf8Exceeds(text: string, limit: number): boolean {
  if (text.length * 3 <= limit) return false
  if (text.length > limit) return true
  return Buffer.byteLength(text, 'utf8') > limit
}

/** The durability a write's options ask for (else the cache's), checked like the cache's own options. */
export function writeDurability(options: WriteOptions | undefined, fallback: Durability, hasLog: boolean): Durability {
  if (options === undefined) return fallback
  checkWriteOptionNames(options)
  const durability = oneOf(options.durability, 'durability', DURABILITIES)
  if (durability === undefined) return fallback
  if (!hasLog && (durability === 'log' || durability === 'disk')) {
    throw new InvalidOptionError('durability', `durability '${durability}' needs a dir for the dirty log, and this cache has none; open it with a dir, or write with 'memory' or 'store'`)
  }
  return durability
}

/** The ttl a write's options ask for (after `writeDurability` checked the names), else the cache's. */
export function writeTtl(options: WriteOptions | undefined, fallback: number): number {
  if (options?.ttlMs === undefined) return fallback
  return checkExpiryMs(options.ttlMs, 'ttlMs') as number
}
