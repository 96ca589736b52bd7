/**
 * The default codec: JSON, strict. Plain `JSON.stringify` silently turns NaN into null, drops
 * `undefined` and functions inside objects and writes a Map as `{}`; a cache that flushes later
 * would then store something other than what was acknowledged. This codec refuses such values
 * instead, so what is read back is what was written.
 */
import type { Codec } from '../contracts/codec.js'

/** Thrown by `strictJson.encode` with the path of the offending part of the value. */
export class UnencodableValueError extends Error {
  constructor(readonly path: string, readonly reason: string) {
    super(`${reason} at ${path}`)
  }
}

export const strictJson: Codec = {
  name: 'json',
  encode(value: unknown): string {
    check(value, '$', 0)
    try {
      return JSON.stringify(value)
    } catch (error) {
      throw new UnencodableValueError('$', error instanceof Error ? error.message : String(error))
    }
  },
  decode(text: string): unknown {
    return JSON.parse(text) as unknown
  },
}

const MAX_DEPTH = 512

function check(value: unknown, path: string, depth: number): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return
    case 'number':
      if (!Number.isFinite(value)) throw new UnencodableValueError(path, `${value} is not a finite number`)
      return
    case 'object':
      if (value === null) return
      if (depth >= MAX_DEPTH) throw new UnencodableValueError(path, `nesting deeper than ${MAX_DEPTH} (a cycle?)`)
      checkObject(value, path, depth)
      return
    default:
      throw new UnencodableValueError(path, `a ${typeof value} cannot be stored`)
  }
}

function checkObject(value: object, path: string, depth: number): void {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) check(value[i], `${path}[${i}]`, depth + 1)
    return
  }
  const proto = Object.getPrototypeOf(value) as unknown
  if (proto !== Object.prototype && proto !== null) {
    if (value instanceof Date) {
      if (Number.isNaN(value.getTime())) throw new UnencodableValueError(path, 'an invalid Date')
      return
    }
    const name = (value.constructor as { name?: string } | undefined)?.name ?? 'object'
    throw new UnencodableValueError(path, `a ${name} is not plain JSON data`)
  }
  for (const key in value) {
    check((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1)
  }
}
