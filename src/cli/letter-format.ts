/** How the `dlq` commands print a dead letter (dir and Redis alike). */
import type { DeadLetter } from '../contracts/dead-letters.js'

/** One line per letter: what, which version, how often it failed, when, and why. */
export function formatLetter(letter: DeadLetter): string {
  const { error } = letter
  const why = `${error.name}${error.code === undefined ? '' : ` [${error.code}]`}: ${error.message}`
  const when = new Date(letter.lastFailedAt).toISOString()
  const what = letter.kind === 'merge' ? `merge ${String(letter.merge)} ${String(letter.operand)}` : letter.kind
  return [printable(letter.key), `v${letter.version}`, what, `attempts=${letter.attempts}`, when, printable(why)].join('\t')
}

/** Escapes control characters (newlines, tabs) so that one letter stays one line. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => {
    const escaped = JSON.stringify(c).slice(1, -1) // \n, \t, \u0001; JSON leaves DEL as is
    return escaped === c ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : escaped
  })
}

/** `n dead letter(s)`. */
export function plural(n: number): string {
  return `${n} dead letter${n === 1 ? '' : 's'}`
}
