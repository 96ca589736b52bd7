/**
 * `writebehind verify <dir> [--json]`: checks every record of every segment (framing, checksum,
 * version order, the chain and its anchor), the checkpoint and the dead-letter file, without
 * taking the writer lock or repairing anything. Prints OK, or each problem with its file, byte
 * offset and the remedy that applies to it. Exit codes: 0 clean; 1 only torn tails (a crash
 * mid-write, which the next open repairs); 2 corrupt or unreadable (open fails); 64/66 for bad
 * arguments.
 */
import { readLogView } from '../dir-view.js'
import { parseLogArgs } from './log-args.js'

export const EXIT_OK = 0
export const EXIT_TORN_TAIL = 1
export const EXIT_CORRUPT = 2

/** Runs the command; resolves to the exit code. */
export async function run(args: string[], out: NodeJS.WritableStream): Promise<number> {
  const parsed = parseLogArgs(args, 'verify')
  if ('error' in parsed) {
    out.write(parsed.error)
    return parsed.code
  }
  const view = readLogView(parsed.dir)
  const records = view.segments.reduce((sum, s) => sum + s.records, 0)
  const code = view.problems.length === 0 ? EXIT_OK : view.problems.every((p) => p.kind === 'torn') ? EXIT_TORN_TAIL : EXIT_CORRUPT
  if (parsed.json) {
    out.write(`${JSON.stringify({ ok: code === EXIT_OK, code, segments: view.segments.length, records, problems: view.problems }, null, 2)}\n`)
    return code
  }
  if (code === EXIT_OK) out.write(`OK: ${records} records in ${view.segments.length} segments\n`)
  for (const p of view.problems) out.write(`${p.kind === 'torn' ? 'TORN TAIL' : 'CORRUPT'}: ${p.file} at offset ${p.offset}: ${p.reason}\n  fix: ${p.remedy}\n`)
  return code
}
