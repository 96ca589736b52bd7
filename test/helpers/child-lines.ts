// A child process's stdout read line by line: every whole line is kept in `lines`, handed to
// `onLine`, and resolves the `line(prefix)` waiters it starts with. The test children speak to
// their parents this way (one JSON or `WORD …` line per event).
import type { Readable } from 'node:stream'

export interface ChildLines {
  /** Every whole line so far, in order. */
  readonly lines: string[]
  /** Resolves with the first line, from now on, that starts with `prefix`. */
  line(prefix: string): Promise<string>
}

export function childLines(stdout: Readable, onLine: (line: string) => void = () => {}): ChildLines {
  const lines: string[] = []
  const waiters: Array<{ prefix: string; resolve: (line: string) => void }> = []
  let buffer = ''
  stdout.setEncoding('utf8')
  stdout.on('data', (chunk: string) => {
    buffer += chunk
    for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + 1)
      lines.push(line)
      onLine(line)
      for (const w of waiters.filter((w) => line.startsWith(w.prefix))) w.resolve(line)
    }
  })
  return { lines, line: (prefix) => new Promise((resolve) => waiters.push({ prefix, resolve })) }
}
