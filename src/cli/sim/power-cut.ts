/**
 * A simulated power cut's effect on the dirty log: whatever the OS had not yet put on disk is
 * gone. After the SIGKILL, the newest segment is cut back to the length it had when the last
 * fsync completed (as the child reported it), or to its header when no fsync of it was seen.
 * Older segments were fsynced when the log rolled past them and stay whole. An approximation:
 * bytes written while that fsync ran count as synced, so it never loses more than a real cut.
 */
import diagnosticsChannel from 'node:diagnostics_channel'
import { readdirSync, statSync, truncateSync } from 'node:fs'
import { join } from 'node:path'
import { CHANNELS } from '../../contracts/diagnostics.js'
import { SEGMENT_HEADER_BYTES } from '../../log/record.js'

/** The newest segment's length at the last fsync the child reported. */
export interface FsyncMark {
  readonly segment: string
  readonly bytes: number
}

/** What the cut removed. */
export interface PowerCut {
  readonly segment: string | undefined
  readonly bytesCut: number
}

export function cutToLastFsync(dir: string, mark: FsyncMark | undefined): PowerCut {
  const newest = newestSegment(dir)
  if (newest === undefined) return { segment: undefined, bytesCut: 0 }
  const path = join(dir, newest)
  const size = statSync(path).size
  const keep = Math.min(size, mark?.segment === newest ? mark.bytes : Math.min(size, SEGMENT_HEADER_BYTES))
  truncateSync(path, keep)
  return { segment: newest, bytesCut: size - keep }
}

/**
 * In the process that owns the log: after each fsync of any cache in this process, hands `report`
 * the newest segment of `dir` and its length (what a power cut would keep; the parent keeps the
 * last mark it received and gives it to `cutToLastFsync` after the kill).
 */
export function watchFsyncs(dir: string, report: (mark: FsyncMark) => void): void {
  diagnosticsChannel.subscribe(CHANNELS.logFsync, () => {
    const segment = newestSegment(dir)
    if (segment !== undefined) report({ segment, bytes: statSync(join(dir, segment)).size })
  })
}

function newestSegment(dir: string): string | undefined {
  return readdirSync(dir)
    .filter((name) => /^segment-\d+\.wbl$/.test(name))
    .sort()
    .at(-1)
}
