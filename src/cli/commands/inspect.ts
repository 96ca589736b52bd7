/**
 * `writebehind inspect (<dir> | --redis <url> --name <name>) [--json] [--limit n]`: what a cache directory holds — its log
 * segments (name, bytes, records, version range), the checkpoint, the dirty keys (latest record
 * per key above the low-water mark; the first `n`, default 50), total bytes, the lock holder, the
 * number of dead letters (`writebehind dlq list` shows them) and any problems. Reads without
 * taking the writer lock. With `--redis`, what a Redis tier holds (redis-view.ts: dirty keys, oldest
 * dirty age, dead letters and lease per shard), read without taking a lease or writing anything.
 * Exit 0, or 64/66 for bad arguments, 66 no such cache in Redis, 69 Redis unreachable, not answering
 * within `--timeout-ms`, or ioredis missing.
 */
import { readDeadLetters } from '../../dead-letters/queue.js'
import { WriteBehindError } from '../../errors.js'
import { readLogView, type LogView } from '../dir-view.js'
import { EXIT, exitCodeFor } from '../exit-codes.js'
import { openRedisTarget, type RedisTarget, type RedisWhere } from '../redis-target.js'
import { formatRedisView, readRedisView } from '../redis-view.js'
import { parseLogArgs } from './log-args.js'

/** Runs the command; resolves to the exit code. */
export async function run(args: string[], out: NodeJS.WritableStream): Promise<number> {
  const parsed = parseLogArgs(args, 'inspect')
  if ('error' in parsed) {
    out.write(parsed.error)
    return parsed.code
  }
  if (parsed.redis !== undefined) return inspectRedis(parsed.redis, parsed.json, out)
  const view = readLogView(parsed.dir)
  const report = { ...toReport(view, parsed.limit), deadLetters: await countDeadLetters(parsed.dir) }
  out.write(parsed.json ? `${JSON.stringify(report, null, 2)}\n` : formatText(report))
  return 0
}

/** `inspect --redis <url> --name <name>` (or `--redis-cluster`): the tier's shards (redis-view.ts); plain reads, no lease taken. */
async function inspectRedis(where: RedisWhere, json: boolean, out: NodeJS.WritableStream): Promise<number> {
  let target: RedisTarget | undefined
  try {
    target = await openRedisTarget(where)
    const view = await readRedisView(target)
    out.write(json ? `${JSON.stringify(view, null, 2)}\n` : formatRedisView(view))
    return EXIT.OK
  } catch (error) {
    out.write(`inspect: ${error instanceof Error ? error.message : String(error)}\n`)
    return exitCodeFor(error)
  } finally {
    target?.client.disconnect()
  }
}

function toReport(view: LogView, limit: number) {
  const segments = view.segments.map((s) => ({
    name: s.name,
    bytes: s.bytes,
    records: s.records,
    firstVersion: s.firstVersion,
    lastVersion: s.lastVersion,
  }))
  const dirtyKeys = view.dirty.slice(0, limit).map((r) => ({
    key: r.key,
    version: r.version,
    kind: r.kind,
    valueBytes: r.encoded === null ? 0 : Buffer.byteLength(r.encoded),
  }))
  return {
    dir: view.dir,
    checkpoint: view.checkpoint === undefined ? null : { lowWater: view.checkpoint.lowWater, highWater: view.checkpoint.highWater },
    /** The first segment the checkpoint says must exist (null: unknown, an old checkpoint). */
    firstSegment: view.checkpoint?.firstSegment ?? null,
    totalBytes: view.segments.reduce((sum, s) => sum + s.bytes, 0),
    segments,
    dirtyKeyCount: view.dirty.length,
    dirtyKeys,
    lock: view.lock ?? null,
    problems: view.problems,
  }
}

/** The number of dead letters, or why they could not be read. */
async function countDeadLetters(dir: string): Promise<number | string> {
  try {
    return (await readDeadLetters(dir)).letters.length
  } catch (error) {
    if (error instanceof WriteBehindError) return error.message
    const code = (error as NodeJS.ErrnoException | undefined)?.code
    if (typeof code === 'string') return `cannot read it (${code})` // e.g. a directory in its place: no stack trace
    throw error
  }
}

type Report = ReturnType<typeof toReport> & { deadLetters: number | string }

function formatText(report: Report): string {
  const lines = [`log ${report.dir}`]
  const cp = report.checkpoint
  lines.push(cp === null ? 'checkpoint: unreadable' : `checkpoint: lowWater ${cp.lowWater}, highWater ${cp.highWater}`)
  lines.push(report.lock === null ? 'writer: none' : `writer: pid ${report.lock.pid} (${report.lock.alive ? 'running' : 'not running: stale lock'})`)
  lines.push(`segments: ${report.segments.length}, ${report.totalBytes} bytes`)
  for (const s of report.segments) {
    const range = s.records === 0 ? 'no records' : `versions ${s.firstVersion}..${s.lastVersion}`
    lines.push(`  ${s.name}  ${s.bytes} bytes  ${s.records} records  ${range}`)
  }
  lines.push(`dirty keys: ${report.dirtyKeyCount}`)
  for (const k of report.dirtyKeys) lines.push(`  ${JSON.stringify(k.key)}  v${k.version}  ${k.kind}${k.kind === 'set' ? `  ${k.valueBytes} bytes` : ''}`)
  if (report.dirtyKeyCount > report.dirtyKeys.length) lines.push(`  ... and ${report.dirtyKeyCount - report.dirtyKeys.length} more (--limit)`)
  lines.push(typeof report.deadLetters === 'number' ? `dead letters: ${report.deadLetters}` : `dead letters: unreadable: ${report.deadLetters}`)
  for (const p of report.problems) lines.push(`problem: ${p.kind} in ${p.file} at offset ${p.offset}: ${p.reason}`)
  return `${lines.join('\n')}\n`
}
