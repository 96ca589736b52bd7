// Every file of a directory (recursively) with its bytes, to assert that a command left it exactly as it was.
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'

export async function snapshot(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>()
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath ?? entry.path, entry.name)
    files.set(path.slice(dir.length + 1), await readFile(path))
  }
  return files
}
