/**
 * Creating files in a log directory without following what someone else planted there. Every
 * temp file (`CHECKPOINT.tmp`, `LOCK.<pid>.tmp`, `dead-letters.log.tmp`) is created with
 * `O_CREAT | O_EXCL | O_NOFOLLOW`, after `unlink`ing a stale one (unlink removes a symlink, never
 * its target): a symlink planted at the temp name can make the create fail, never redirect it.
 */
import { closeSync, constants, openSync, unlinkSync, writeSync } from 'node:fs'
import { open, unlink, type FileHandle } from 'node:fs/promises'

/** `O_NOFOLLOW` where the platform has it (not on Windows, which has no such symlink hazard in a 0700 dir). */
export const O_NOFOLLOW: number = constants.O_NOFOLLOW ?? 0
/** Flags for a new file that must not exist and must not be reached through a symlink. */
export const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW

/** Creates `path` afresh (a stale file or symlink at it is unlinked first) and writes `data`. */
export function writeNewFileSync(path: string, data: string | Buffer, mode = 0o600): void {
  unlinkIfPresentSync(path)
  const fd = openSync(path, CREATE_NEW, mode)
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data
    let done = 0
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, done)
  } finally {
    closeSync(fd)
  }
}

/** Opens `path` as a new, empty file for writing (a stale file or symlink at it is unlinked first). */
export async function openNewFile(path: string, mode = 0o600): Promise<FileHandle> {
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error
  })
  return open(path, CREATE_NEW, mode)
}

/** Removes `path` if it exists (a symlink itself, not its target). */
export function unlinkIfPresentSync(path: string): void {
  try {
    unlinkSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
}
