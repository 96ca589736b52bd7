/**
 * The default codec: JSON, strict. Plain `JSON.stringify` silently turns NaN into null, drops
 * `undefined` and functions inside objects, writes a Map as `{}`, a Date as a string and -0 as 0;
 * a cache that flushes later would then store something other than what was acknowledged. This
 * codec refuses such values instead, so what is read back is what was written.
 *
 * One pass: the value is checked and written out together, reading each property once, so what
 * is checked is what is stored (a getter that returns something else on a second read cannot slip
 * an unchecked value in). A cycle is named where it closes (`$.a.b` back to `$`). A refused value
 * throws `UnencodableValueError` (`E_UNENCODABLE_VALUE`, errors.ts) with its path.
 */
import type { Codec } from '../contracts/codec.js'
import { UnencodableValueError } from '../errors.js'

export const strictJson: Codec = {
  name: 'json',
  encode(value: unknown): string {
    if (typeof value === 'string') return JSON.stringify(value)
    if (typeof value !== 'object' || value === null) return encodeScalar(value, undefined, 0)
    return encodeObject(value, { ancestors: [], keys: [] }, 0)
  },
  decode(text: string): unknown {
    return JSON.parse(text) as unknown
  },
}

const MAX_DEPTH = 512
/** A key JSON writes as it is (no escapes needed). */
const SIMPLE_KEY = /^[\w$.:@ -]*$/

/** The objects being written, outermost first (`ancestors[d]` is at depth d), and the key being written in each. */
interface Walk {
  readonly ancestors: object[]
  readonly keys: Array<string | number>
}

function encodeAny(value: unknown, walk: Walk, depth: number): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'object' && value !== null) return encodeObject(value, walk, depth)
  return encodeScalar(value, walk, depth)
}

function encodeScalar(value: unknown, walk: Walk | undefined, depth: number): string {
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false'
    case 'number':
      if (!Number.isFinite(value)) throw fail(walk, depth, `${value} is not a finite number`)
      if (value === 0 && 1 / value < 0) throw fail(walk, depth, '-0 cannot be stored (JSON and the stores would give it back as 0): store 0')
      return String(value)
    case 'object':
      return 'null'
    case 'undefined':
      throw fail(walk, depth, 'undefined cannot be stored (use null, or leave the property out)')
    case 'bigint':
      throw fail(walk, depth, 'a bigint cannot be stored (store it as a string)')
    default:
      throw fail(walk, depth, `a ${typeof value} cannot be stored`)
  }
}

function encodeObject(value: object, walk: Walk, depth: number): string {
  const repeat = walk.ancestors.indexOf(value)
  if (repeat !== -1) throw fail(walk, depth, `a cycle (back to ${pathOf(walk, repeat)})`)
  if (depth >= MAX_DEPTH) throw fail(walk, depth, `nesting deeper than ${MAX_DEPTH}`)
  walk.ancestors[depth] = value
  const keys = walk.keys
  let out: string
  if (Array.isArray(value)) {
    out = '['
    for (let i = 0; i < value.length; i++) {
      keys[depth] = i
      out += (i === 0 ? '' : ',') + encodeAny(value[i], walk, depth + 1)
    }
    out += ']'
  } else {
    checkPlain(value, walk, depth)
    const names = Object.keys(value)
    out = '{'
    for (let i = 0; i < names.length; i++) {
      const key = names[i] as string
      keys[depth] = key
      const item = encodeAny((value as Record<string, unknown>)[key], walk, depth + 1)
      out += (i === 0 ? '"' : ',"') + (SIMPLE_KEY.test(key) ? key : JSON.stringify(key).slice(1, -1)) + '":' + item
    }
    out += '}'
  }
  walk.ancestors.length = depth
  return out
}

function checkPlain(value: object, walk: Walk, depth: number): void {
  const proto = Object.getPrototypeOf(value) as unknown
  if (proto === Object.prototype || proto === null) return
  if (value instanceof Date) throw fail(walk, depth, 'a Date is not plain JSON data (JSON would store it as a string): store date.toISOString() or date.getTime()')
  const name = (value.constructor as { name?: unknown } | undefined)?.name
  const what = typeof name === 'string' && name.length > 0 ? `an instance of ${name}` : 'an object with a prototype'
  throw fail(walk, depth, `${what} is not plain JSON data (class instances are refused: JSON would not give it back)`)
}

function fail(walk: Walk | undefined, depth: number, reason: string): UnencodableValueError {
  return new UnencodableValueError(walk === undefined ? '$' : pathOf(walk, depth), reason)
}

/** The path of the value at `depth` of the walk: `$`, `$.a`, `$.a[2]`. */
function pathOf(walk: Walk, depth: number): string {
  let path = '$'
  for (let d = 0; d < depth; d++) {
    const key = walk.keys[d] as string | number
    path += typeof key === 'number' ? `[${key}]` : `.${key}`
  }
  return path
}
