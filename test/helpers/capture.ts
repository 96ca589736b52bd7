/** Runs a CLI command in-process and captures what it prints: `{ code, text }`. */
import { Writable } from 'node:stream'

export async function runCaptured(run: (args: string[], out: Writable) => Promise<number>, args: string[]): Promise<{ code: number; text: string }> {
  let text = ''
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString()
      done()
    },
  })
  const code = await run(args, out)
  return { code, text }
}
