/**
 * The one way writebehind checks an option or an argument at the door, and the one message style:
 *
 *   <name> must be <expectation>, got <the value>[; <hint>]
 *
 * e.g. `flush.batchSize must be a whole number >= 1, got 0`, or `durability must be one of
 * 'memory', 'log', 'disk', 'store', got 'stor'; did you mean 'store'?`. A wrong name reads
 * `unknown option 'durabilty'; did you mean 'durability'?`. Every failure is an
 * `InvalidOptionError` (a `TypeError`, code `E_INVALID_OPTION`) naming the option.
 *
 * The `check…` functions let `undefined` through (the caller's default applies) unless asked for
 * `required: true`. A shape of its own (a store, a pool, a clock) is checked by its caller, which
 * throws `invalid(name, expectation, value)`.
 *
 * This folder sits below core/, log/, flush/ and stores/ (it imports only errors.ts), so each of
 * them checks its own options here without an import running up.
 */
import { InvalidOptionError } from '../errors.js'
import { closest, suggestion } from './suggest.js'

/** The error for a bad `name`, in the one message style. */
export function invalid(name: string, expectation: string, value: unknown, hint?: string): InvalidOptionError {
  return new InvalidOptionError(name, `${name} must be ${expectation}, got ${show(value)}${hint === undefined ? '' : `; ${hint}`}`)
}

/** The error for a `kind` of name (`option`, `write option`) that does not exist: "did you mean", or `hint`. */
export function unknownName(kind: string, name: string, candidates: readonly string[], hint?: string): InvalidOptionError {
  return new InvalidOptionError(name, `unknown ${kind} '${name}'; ${hint ?? suggestion(name, candidates)}`)
}

interface Presence {
  /** `undefined` is refused too. */
  readonly required?: boolean
}

export interface NumberRule extends Presence {
  /** Smallest allowed value. */
  readonly min?: number
  /** Values must be above this (`> 0`). */
  readonly above?: number
  /** A whole number (a safe integer). */
  readonly integer?: boolean
  /** Infinity is refused (NaN always is). */
  readonly finite?: boolean
}

/** A number within `rule`. */
export function checkNumber(value: unknown, name: string, rule: NumberRule & { required: true }): number
export function checkNumber(value: unknown, name: string, rule: NumberRule): number | undefined
export function checkNumber(value: unknown, name: string, rule: NumberRule): number | undefined {
  if (value === undefined && rule.required !== true) return undefined
  if (typeof value === 'number' && fits(value, rule)) return value
  throw invalid(name, describeNumber(rule), value)
}

function fits(value: number, rule: NumberRule): boolean {
  if (Number.isNaN(value)) return false
  if (rule.integer === true && !Number.isSafeInteger(value)) return false
  if (rule.finite === true && !Number.isFinite(value)) return false
  return (rule.min === undefined || value >= rule.min) && (rule.above === undefined || value > rule.above)
}

function describeNumber(rule: NumberRule): string {
  const kind = rule.integer === true ? 'a whole number' : rule.finite === true ? 'a finite number' : 'a number'
  return kind + (rule.min !== undefined ? ` >= ${rule.min}` : rule.above !== undefined ? ` > ${rule.above}` : '')
}

/** A non-empty string. */
export function checkString(value: unknown, name: string, rule: Presence & { required: true }): string
export function checkString(value: unknown, name: string, rule?: Presence): string | undefined
export function checkString(value: unknown, name: string, rule: Presence = {}): string | undefined {
  if (value === undefined && rule.required !== true) return undefined
  if (typeof value === 'string' && value !== '') return value
  throw invalid(name, 'a non-empty string', value)
}

/** `true` or `false`. */
export function checkBoolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value
  throw invalid(name, 'true or false', value)
}

/** A function; `what` says which (`a function (code, message)`). */
export function checkFunction<F>(value: F | undefined, name: string, what = 'a function'): F | undefined {
  if (value === undefined || typeof value === 'function') return value
  throw invalid(name, what, value)
}

/** `value` if it is one of `allowed` (or undefined); else the error, with "did you mean" when one is near. */
export function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T | undefined {
  if (value === undefined || allowed.includes(value as T)) return value as T | undefined
  const near = typeof value === 'string' ? closest(value, allowed) : undefined
  throw invalid(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value, near === undefined ? undefined : `did you mean '${near}'?`)
}

/** A value as a message shows it: `'text'`, `42`, `an array`, `{"a":1}` (cut short), `a function`. */
export function show(value: unknown): string {
  if (typeof value === 'string') return `'${clip(value)}'`
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'symbol') return value.toString()
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'object' && value !== null) {
    try {
      return clip(JSON.stringify(value) ?? 'an object')
    } catch {
      return 'an object'
    }
  }
  return String(value)
}

function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}
