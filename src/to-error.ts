/** `error` as an Error: a thrown non-Error (a string, an object) is wrapped, its text kept. */
export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}
