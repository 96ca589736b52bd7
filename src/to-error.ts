/**
 * `toError`: anything thrown, as an `Error`. A leaf module (no imports) so every folder can use
 * it without an import running up or across.
 */

/** `error` itself when it is an `Error`, else a new `Error` whose message is `String(error)`. */
export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}
