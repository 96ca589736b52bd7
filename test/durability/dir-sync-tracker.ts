/**
 * Which directory entries would survive a power loss. POSIX makes a new file's name durable only
 * once its directory is fsynced after the file was created (fdatasync of the file is not enough).
 * This spies on every way the code fsyncs a directory (`fs.fsync`, `fs.fsyncSync`,
 * `FileHandle.sync`) and records, for one directory, the names it held when an fsync of it was
 * ISSUED, once that fsync COMPLETED: those names are durable; a file created later is not yet.
 *
 * The spies replace the `node:fs` exports for the whole process (`syncBuiltinESMExports`), so
 * install one tracker at a time and uninstall it when done.
 */
import fs from 'node:fs'
import { open } from 'node:fs/promises'
import { syncBuiltinESMExports } from 'node:module'

type SyncFn = (this: { fd: number }) => Promise<void>

export class DirSyncTracker {
  private readonly durable = new Set<string>()
  private readonly restore: Array<() => void> = []
  private readonly ino: number
  private readonly dev: number

  private constructor(private readonly dir: string) {
    const st = fs.statSync(dir)
    this.ino = st.ino
    this.dev = st.dev
  }

  /** Starts tracking `dir` (it must exist). */
  static async install(dir: string): Promise<DirSyncTracker> {
    const tracker = new DirSyncTracker(dir)
    await tracker.spy()
    return tracker
  }

  /** Names in the directory that a power loss now would keep. */
  durableNames(): ReadonlySet<string> {
    return new Set(this.durable)
  }

  uninstall(): void {
    for (const undo of this.restore.splice(0)) undo()
    syncBuiltinESMExports()
  }

  /** The directory's names if `fd` is that directory, else undefined. */
  private namesIfOurs(fd: number): string[] | undefined {
    const st = fs.fstatSync(fd)
    return st.isDirectory() && st.ino === this.ino && st.dev === this.dev ? fs.readdirSync(this.dir) : undefined
  }

  private markDurable(names: string[] | undefined): void {
    for (const name of names ?? []) this.durable.add(name)
  }

  private async spy(): Promise<void> {
    const { fsync, fsyncSync } = fs
    fs.fsync = ((fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
      const names = this.namesIfOurs(fd)
      fsync(fd, (error) => {
        if (error === null) this.markDurable(names)
        callback(error)
      })
    }) as typeof fs.fsync
    fs.fsyncSync = (fd: number) => {
      const names = this.namesIfOurs(fd)
      fsyncSync(fd)
      this.markDurable(names)
    }
    this.restore.push(() => Object.assign(fs, { fsync, fsyncSync }))
    syncBuiltinESMExports()
    await this.spyFileHandles()
  }

  private async spyFileHandles(): Promise<void> {
    const handle = await open(this.dir, 'r')
    const proto = Object.getPrototypeOf(handle) as { sync: SyncFn }
    await handle.close()
    const sync = proto.sync
    const namesIfOurs = (fd: number): string[] | undefined => this.namesIfOurs(fd)
    const markDurable = (names: string[] | undefined): void => this.markDurable(names)
    proto.sync = async function (this: { fd: number }) {
      const names = namesIfOurs(this.fd)
      await sync.call(this)
      markDurable(names)
    }
    this.restore.push(() => (proto.sync = sync))
  }
}
