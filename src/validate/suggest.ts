/**
 * "Did you mean": the nearest known name to a wrong one, for options, their values and CLI flags.
 * Case-insensitive edit distance, with a prefix counting as near (`interval` → `intervalMs`).
 */

/** `'stor'` → "did you mean 'store'?"; else the list of what would do. The closing part of every message about a wrong name or value. */
export function suggestion(given: string, candidates: readonly string[]): string {
  const best = closest(given, candidates)
  return best === undefined ? `expected one of ${candidates.map((c) => `'${c}'`).join(', ')}` : `did you mean '${best}'?`
}

/**
 * The candidate nearest `given`, if near enough. A dotted name (`flush.interval`) is also compared
 * by its last part, so a name given without its group (`batchSize`) finds it (`flush.batchSize`).
 */
export function closest(given: string, candidates: readonly string[]): string | undefined {
  const g = given.toLowerCase()
  const last = g.slice(g.lastIndexOf('.') + 1)
  let best: string | undefined
  let bestScore = Infinity
  for (const candidate of candidates) {
    const c = candidate.toLowerCase()
    const tail = c.slice(c.lastIndexOf('.') + 1)
    let score = Math.min(editDistance(g, c), editDistance(last, tail) + (c === tail ? 0 : 0.5))
    if (last.length >= 3 && (tail.startsWith(last) || last.startsWith(tail))) score = Math.min(score, 1)
    if (score < bestScore) {
      bestScore = score
      best = candidate
    }
  }
  return bestScore <= Math.max(2, Math.floor(last.length / 3)) ? best : undefined
}

/** Levenshtein distance between two strings. */
export function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min((row[j] as number) + 1, (next[j - 1] as number) + 1, (row[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    row = next
  }
  return row[b.length] as number
}
