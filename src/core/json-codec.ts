/**
 * The default codec: JSON, strict. Plain `JSON.stringify` silently turns NaN into null, drops
 * `undefined` and functions inside objects, writes a Map as `{}`, a Date as a string and -0 as 0;
 * a cache that flushes later would then store something other than what was acknowledged. This
 * codec refuses such values instead, so what is read back is what was written.
 *
 * One read: the value is checked and copied together, reading each property once, into fresh
 * plain objects and arrays that hold only data; `JSON.stringify` then writes that copy, which no
 * getter, proxy or `toJSON` can change, so what is checked is what is stored (a getter that returns
 * something else on a second read cannot slip an unchecked value in). A cycle is named where it
 * closes (`$.a.b` back to `$`). A refused value throws `UnencodableValueError`
 * (`E_UNENCODABLE_VALUE`, errors.ts) with its path.
 *
 * A record of scalars, the common value, is not copied: its text is written as each property is
 * read (`flatText`), so what is checked is still what is stored, read once.
 *
 * It runs on every write, so an accepted value costs its copy and one flat string: the containers
 * being copied sit on one shared stack (a nested `encode`, from a getter, works above the outer
 * one's part), and the path of a refused part is only put together as the refusal unwinds.
 */
import type { Codec } from '../contracts/codec.js'
import { UnencodableValueError } from '../errors.js'

export const strictJson: Codec = {
  name: 'json',
  encode(value: unknown): string {
    if (typeof value === 'string') return JSON.stringify(value)
    const base = top
    let copy: unknown
    try {
      if (typeof value !== 'object' || value === null) copy = checkScalar(value)
      else if (Array.isArray(value)) copy = copyObject(value, base)
      else {
        checkPlain(value)
        const text = flatText(value as Record<string, unknown>)
        if (typeof text === 'string') return text
        copy = fillRecord(text, value, base)
      }
    } catch (error) {
      throw error instanceof Refusal ? error.toError() : error
    } finally {
      // Every level takes itself off the stack; after a throw, let go of what is left.
      for (let i = base; i < top; i++) ancestors[i] = undefined
      top = base
    }
    // JSON.stringify would call a toJSON that someone put on Array.prototype or Object.prototype
    // (the copies inherit from them; `in` finds both without calling a getter): write it by hand then.
    return 'toJSON' in Array.prototype ? writeCopy(copy) : JSON.stringify(copy)
  },
  decode(text: string): unknown {
    return JSON.parse(text) as unknown
  },
}

const MAX_DEPTH = 512

/**
 * The containers above the part being copied: `ancestors[base + d]` is at depth d of the `encode`
 * call that started at `base`. A container goes on only when one of its items is a container.
 */
const ancestors: Array<object | undefined> = []
let top = 0

/** Returns `value` if JSON stores it as it is (a string, a boolean, a finite number other than -0, null). */
function checkScalar(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      if (!Number.isFinite(value)) throw new Refusal(`${value} is not a finite number`)
      if (value === 0 && 1 / value < 0) throw new Refusal('-0 cannot be stored (JSON and the stores would give it back as 0): store 0')
      return value
    case 'object':
      return value // null
    case 'undefined':
      throw new Refusal('undefined cannot be stored (use null, or leave the property out)')
    case 'bigint':
      throw new Refusal('a bigint cannot be stored (store it as a string)')
    default:
      throw new Refusal(`a ${typeof value} cannot be stored`)
  }
}

/** A fresh copy of a plain object or array; `top - base` is its depth. */
function copyObject(value: object, base: number): unknown {
  for (let i = base; i < top; i++) if (ancestors[i] === value) throw new Refusal('a cycle', i - base)
  if (top - base >= MAX_DEPTH) throw new Refusal(`nesting deeper than ${MAX_DEPTH}`)
  return Array.isArray(value) ? copyArray(value, base) : copyRecord(value, base)
}

function copyArray(value: unknown[], base: number): unknown[] {
  const copy: unknown[] = []
  const at = top
  let i = 0
  try {
    for (; i < value.length; i++) {
      const item = value[i]
      if (typeof item !== 'object' || item === null) {
        copy.push(checkScalar(item))
      } else {
        enter(value, at)
        copy.push(copyObject(item, base))
      }
    }
  } catch (error) {
    throw error instanceof Refusal ? error.at(i) : error
  }
  leave(at)
  return copy
}

function copyRecord(value: object, base: number): Record<string, unknown> {
  checkPlain(value)
  // The spread reads each own enumerable property once; from here on only the copy is read.
  return fillRecord({ ...value }, value, base)
}

/**
 * The JSON text of a record whose values are all scalars (the common case: no nested copy to make),
 * written here without `JSON.stringify`'s setup, which is most of the cost of a small value (this
 * and the flattening below take about two thirds of its time for `{ score: 1234 }`), and without
 * copying the record first (a copy per write is garbage the collector must sweep). Each own
 * enumerable property is read once, in `JSON.stringify`'s order (for-in's own keys: integer keys
 * ascending, then insertion order), and what was read is what is written: each key quoted by
 * `JSON.stringify`, numbers as `String` writes them (as JSON does), and no `toJSON` is looked up.
 *
 * When a value is a container, returns a fresh copy of the record instead, for `fillRecord` to
 * finish: the scalars read so far come back from their text (JSON gives back exactly what it
 * wrote), and the rest is copied as it is read, so no property is read twice.
 */
function flatText(value: Record<string, unknown>): string | Record<string, unknown> {
  let text = ''
  let key = ''
  let copy: Record<string, unknown> | undefined
  try {
    for (key in value) {
      // Own keys only, as JSON.stringify writes them (this form allocates no key list).
      if (!Object.prototype.hasOwnProperty.call(value, key)) continue
      const item = value[key]
      if (copy === undefined && typeof item === 'object' && item !== null) copy = text === '' ? {} : (JSON.parse(`${text}}`) as Record<string, unknown>)
      if (copy !== undefined) {
        defineItem(copy, key, item)
        continue
      }
      const json = typeof item === 'string' ? JSON.stringify(item) : String(checkScalar(item))
      // The brace and the comma come with the quoted key: each piece joined is one more string to make.
      text = text === '' ? keyText(key, true) + json : text + keyText(key, false) + json
    }
  } catch (error) {
    throw error instanceof Refusal ? error.at(key) : error
  }
  if (copy !== undefined) return copy
  // trim() (there is nothing to trim) flattens the pieces into one flat string, as JSON.stringify
  // gives: V8 keeps a concatenation as a tree of its pieces, which, kept in the cache, costs several
  // times the memory and garbage-collection time of the flat text. (It returns the tree's root,
  // which then points only at the flat text; the collector drops that root when it moves the value.)
  return text === '' ? '{}' : `${text}}`.trim()
}

/** Sets `copy[key]`; assigning `__proto__` would set the copy's prototype: define it as the data it is. */
function defineItem(copy: Record<string, unknown>, key: string, item: unknown): void {
  if (key === '__proto__') Object.defineProperty(copy, key, { value: item, enumerable: true, writable: true, configurable: true })
  else copy[key] = item
}

/** A record key as it is written: `{"key":` first in its record, `,"key":` after another. */
interface KeyText {
  readonly first: string
  readonly later: string
}

/** How many quoted keys `keyText` keeps (record keys repeat from write to write; user data may not). */
const QUOTED_KEYS = 1024
const quotedKeys = new Map<string, KeyText>()

/** The last key `keyText` answered and its texts: a record of one field hits it every write, without a hash lookup. */
let lastKey = ''
let lastText: KeyText = { first: '{"":', later: ',"":' }

/** `{"key":` (`first`) or `,"key":`, the key quoted by `JSON.stringify`. */
function keyText(key: string, first: boolean): string {
  if (key !== lastKey) {
    let found = quotedKeys.get(key)
    if (found === undefined) {
      const quoted = JSON.stringify(key)
      found = { first: `{${quoted}:`, later: `,${quoted}:` }
      if (quotedKeys.size < QUOTED_KEYS) quotedKeys.set(key, found)
    }
    lastKey = key
    lastText = found
  }
  return first ? lastText.first : lastText.later
}

/** Checks the items of `copy`, a fresh copy of the record `value`, replacing containers by their copies. */
function fillRecord(copy: Record<string, unknown>, value: object, base: number): Record<string, unknown> {
  const at = top
  let key = ''
  try {
    for (key in copy) {
      // Own keys only, as JSON.stringify writes them (this form allocates no key list).
      if (!Object.prototype.hasOwnProperty.call(copy, key)) continue
      const item = copy[key]
      if (typeof item !== 'object' || item === null) {
        checkScalar(item)
        continue
      }
      enter(value, at)
      const inner = copyObject(item, base)
      // Assigning `__proto__` would set the copy's prototype: define it as the data it is.
      if (key === '__proto__') Object.defineProperty(copy, key, { value: inner, enumerable: true, writable: true, configurable: true })
      else copy[key] = inner
    }
  } catch (error) {
    throw error instanceof Refusal ? error.at(key) : error
  }
  leave(at)
  return copy
}

/** Puts `value` on the stack at `at` before the first of its items that is a container is copied. */
function enter(value: object, at: number): void {
  if (top === at) ancestors[top++] = value
}

/** Takes the container at `at` off the stack, if it went on. */
function leave(at: number): void {
  if (top > at) {
    ancestors[at] = undefined
    top = at
  }
}

function checkPlain(value: object): void {
  const proto = Object.getPrototypeOf(value) as unknown
  if (proto === Object.prototype || proto === null) return
  if (value instanceof Date) throw new Refusal('a Date is not plain JSON data (JSON would store it as a string): store date.toISOString() or date.getTime()')
  const name = (value.constructor as { name?: unknown } | undefined)?.name
  const what = typeof name === 'string' && name.length > 0 ? `an instance of ${name}` : 'an object with a prototype'
  throw new Refusal(`${what} is not plain JSON data (class instances are refused: JSON would not give it back)`)
}

/** JSON text of a copy (checked data only), without looking for toJSON anywhere. */
function writeCopy(copy: unknown): string {
  if (Array.isArray(copy)) return `[${copy.map(writeCopy).join(',')}]`
  if (typeof copy !== 'object' || copy === null) return JSON.stringify(copy)
  return `{${Object.keys(copy)
    .map((key) => `${JSON.stringify(key)}:${writeCopy((copy as Record<string, unknown>)[key])}`)
    .join(',')}}`
}

/** A refused part of the value; each level it unwinds through adds its key, innermost first. */
class Refusal extends Error {
  private readonly keys: Array<string | number> = []

  /** `backTo`: for a cycle, the depth of the object it goes back to. */
  constructor(
    readonly reason: string,
    private readonly backTo = -1,
  ) {
    super(reason)
  }

  at(key: string | number): Refusal {
    this.keys.push(key)
    return this
  }

  toError(): UnencodableValueError {
    const keys = this.keys.reverse()
    const reason = this.backTo < 0 ? this.reason : `${this.reason} (back to ${pathOf(keys, this.backTo)})`
    return new UnencodableValueError(pathOf(keys, keys.length), reason)
  }
}

/** `$`, `$.a`, `$.a[2]`: the path through the first `depth` keys. */
function pathOf(keys: ReadonlyArray<string | number>, depth: number): string {
  let path = '$'
  for (let d = 0; d < depth; d++) {
    const key = keys[d] as string | number
    path += typeof key === 'number' ? `[${key}]` : `.${key}`
  }
  return path
}
