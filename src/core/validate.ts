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

export function checkKey(key: unknown, maxKeyBytes: number): asserts key is string {
  if (typeof key !== 'string') throw new InvalidKeyError(key, `expected a string, got ${key === null ? 'null' : typeof key}`)
  if (key.length === 0) throw new InvalidKeyError(key, 'the key is empty')
  if (utf8Exceeds(key, maxKeyBytes)) throw new InvalidKeyError(key, `the key is longer than maxKeyBytes (${maxKeyBytes} bytes)`)
  // A lone surrogate has no UTF-8 form: the log and the stores would turn it into U+FFFD, a different key.
  if (!(key as string & { isWellFormed(): boolean }).isWellFormed()) throw new InvalidKeyError(key, 'the key holds a lone UTF-16 surrogate (not valid Unicode)')
}

/** Encodes `value` with the cache's codec, or throws `InvalidValueError`. */
export function encodeValue(key: string, value: unknown, options: Pick<ResolvedOptions, 'codec' | 'maxValueBytes'>): string {
  let encoded: unknown
  try {
    encoded = options.codec.encode(value)
  } catch (error) {
    throw new InvalidValueError(key, error instanceof Error ? error.message : String(error), { cause: error })
  }
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
