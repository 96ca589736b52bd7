/**
 * How values become text: for the dirty log, for byte accounting and for the stores. The cache
 * keeps only the encoded text of each value, so what `get()` returns is a fresh copy and a caller
 * mutating its object after `set()` changes nothing that will be flushed.
 *
 * Contract: `encode` must either return JSON text for the value or throw (the cache turns a throw
 * into an `InvalidValueError`, and nothing of the write is applied); `decode(encode(v))` must give
 * back an equal value (the default codec refuses what JSON would not give back: a Date, -0, a
 * class instance). Encoding to JSON text keeps the built-in SQL stores' JSON columns valid.
 */
export interface Codec {
  /** A short name for messages and the log header, such as `json`. */
  readonly name: string
  encode(value: unknown): string
  decode(text: string): unknown
}
