/** Errors of bad input: options, keys, values, and read-modify-writes that cannot apply. */
import { WriteBehindError, truncate, type ErrorDetails } from './base.js'

/**
 * A bad option or argument, named by `option`: the wrong type or range, a name that is not an
 * option (the message suggests the one meant), or options that cannot go together. Thrown at the
 * door, before anything happens. A `TypeError` (and its `name` stays `TypeError`, as with Node's
 * own coded errors), so it is the one class here that is not a `WriteBehindError`.
 */
export class InvalidOptionError extends TypeError {
  readonly code = 'E_INVALID_OPTION'
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(message)
  }
}

/** A key that is not a non-empty string, or is longer than `maxKeyBytes`. */
export class InvalidKeyError extends WriteBehindError<'E_INVALID_KEY'> {
  constructor(
    readonly key: unknown,
    reason: string,
  ) {
    super('E_INVALID_KEY', `Invalid key: ${reason}. Keys are non-empty strings within maxKeyBytes.`)
  }
}

/** A value the codec cannot encode, or one larger than `maxValueBytes`. */
export class InvalidValueError extends WriteBehindError<'E_INVALID_VALUE'> {
  constructor(
    readonly key: string,
    reason: string,
    details: ErrorDetails = {},
  ) {
    super(
      'E_INVALID_VALUE',
      `Cannot store the value for key "${truncate(key)}": ${reason}. ` +
        'Pass plain JSON data (objects, arrays, strings, finite numbers, booleans, null), or configure a codec that supports this type.',
      details,
    )
  }
}

/**
 * Thrown by `strictJson.encode` for a value JSON would not give back as it is: `path` is where in
 * the value (`$.a[2]`), `reason` what is wrong and what to store instead. The cache wraps it in an
 * `InvalidValueError` (its `cause`); you meet it as it is only when you call the codec yourself.
 */
export class UnencodableValueError extends WriteBehindError<'E_UNENCODABLE_VALUE'> {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super('E_UNENCODABLE_VALUE', `${reason} at ${path}`)
  }
}

/**
 * `update(key, fn)` found the key written by another call (a `set`, `delete` or `setMany`) while
 * its `fn` or read-through was awaited, on every one of its `attempts`; nothing was written.
 */
export class UpdateConflictError extends WriteBehindError<'E_UPDATE_CONFLICT'> {
  constructor(
    readonly key: string,
    readonly attempts: number,
  ) {
    super(
      'E_UPDATE_CONFLICT',
      `update("${truncate(key)}") gave up after ${attempts} attempts: each time, another write of the key landed while its function ran, so nothing was written. ` +
        "Route the key's writes through update(), make the function faster, or retry the update.",
    )
  }
}

/**
 * `increment`, `max` or `min` on a key whose value is not a number (a missing or deleted key is
 * fine: it starts from the operand), or an increment whose result would not be a finite number.
 * Nothing was written.
 */
export class NotANumberError extends WriteBehindError<'E_NOT_A_NUMBER'> {
  constructor(
    readonly key: string,
    readonly merge: 'sum' | 'max' | 'min',
    readonly found: string,
  ) {
    const operation = merge === 'sum' ? 'increment' : merge
    super(
      'E_NOT_A_NUMBER',
      `Cannot ${operation} "${truncate(key)}": it holds ${found}, not a finite number. ` +
        `${operation}() works on a key holding a number (or none): keep counters under keys of their own, or set() a number first.`,
    )
  }
}
