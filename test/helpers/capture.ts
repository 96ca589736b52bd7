/** Captures what a CLI command prints: a stream that keeps its text, and in-process runs as `{ code, text }`. */
import { Writable } from 'node:stream'

/** A stream that keeps what is written to it. */
export function capture(): Writable & { text: () => string } {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(chunk.toString())
      done()
    },
  })
  return Object.assign(stream, { text: () => chunks.join('') })
}

/** Runs a CLI command in-process and captures what it prints: `{ code, text }`. */
export async function runCaptured(run: (args: string[], out: Writable) => Promise<number>, args: string[]): Promise<{ code: number; text: string }> {
  const out = capture()
  const code = await run(args, out)
  return { code, text: out.text() }
}
