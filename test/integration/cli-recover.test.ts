/**
 * `writebehind recover`: a cache whose store is down closes without flushing (its writes stay in
 * the dirty log); `recover` then flushes that log into a SQLite file offline. Real files, real
 * SQLite, in-process command.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { run } from '../../src/cli/commands/recover.js'
import { capture } from '../helpers/capture.js'
import { snapshot } from '../helpers/dir-snapshot.js'
import { leaveDirtyLog } from '../helpers/dirty-dir.js'

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'wb-cli-recover-'))
}

interface Row {
  key: string
  value: string | null
  deleted: number
}

function readRows(path: string, table = 'writebehind_entries'): Map<string, Row> {
  const db = new Database(path, { readonly: true })
  try {
    const rows = db.prepare(`SELECT "key", "value", "deleted" FROM "${table}"`).all() as Row[]
    return new Map(rows.map((row) => [row.key, row]))
  } finally {
    db.close()
  }
}

function assertStoreHolds(dbPath: string, expected: Map<string, unknown>, table?: string): void {
  const rows = readRows(dbPath, table)
  assert.equal(rows.size, expected.size)
  for (const [key, value] of expected) {
    const row = rows.get(key)
    assert.ok(row !== undefined, `${key} missing from the store`)
    if (value === undefined) assert.equal(row.deleted, 1, `${key} should be a tombstone`)
    else assert.deepEqual([row.deleted, JSON.parse(row.value ?? 'null')], [0, value], key)
  }
}

const SRC = fileURLToPath(new URL('../../src/', import.meta.url))

/**
 * A real process writes at durability `disk` to a store that never answers, says "ready" once
 * every write is acknowledged, and is then killed with SIGKILL: its log (and a stale LOCK) is all
 * that is left. Returns the last value per key (undefined = deleted).
 */
async function killWriterProcess(dir: string): Promise<Map<string, unknown>> {
  const code = `
    import { WriteBehindCache } from ${JSON.stringify(join(SRC, 'core/write-behind-cache.ts'))}
    const hung = { writeBatch: () => new Promise(() => {}), load: async () => new Map() }
    const cache = await WriteBehindCache.open({ store: hung, dir: ${JSON.stringify(dir)}, durability: 'disk' })
    for (let i = 0; i < 120; i++) await cache.set('k:' + (i % 50), { i })
    await cache.delete('k:7')
    process.stdout.write('ready\\n')
    setInterval(() => {}, 1000)
  `
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })
  let output = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    output += chunk
    if (output.includes('ready')) child.kill('SIGKILL')
  })
  const [exitCode, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null]
  assert.equal(signal, 'SIGKILL', `the writer should be killed after writing (exit ${exitCode}, output ${output})`)
  assert.ok(existsSync(join(dir, 'LOCK')), 'the killed writer left its lock behind')
  const expected = new Map<string, unknown>()
  for (let i = 0; i < 120; i++) expected.set(`k:${i % 50}`, { i })
  expected.set('k:7', undefined)
  return expected
}

describe('writebehind recover', () => {
  it('flushes the log of a process killed with SIGKILL (stale lock included) into SQLite', async () => {
    const root = await tempDir()
    try {
      const dir = join(root, 'cache')
      const dbPath = join(root, 'app.db')
      const expected = await killWriterProcess(dir)
      const out = capture()
      assert.equal(await run([dir, '--store', dbPath, '--create-table'], out), 0, out.text())
      assert.match(out.text(), /50 keys to flush/)
      assertStoreHolds(dbPath, expected)
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('flushes every write a closed-without-flushing cache left in its log into SQLite', async () => {
    const root = await tempDir()
    try {
      const dir = join(root, 'cache')
      const dbPath = join(root, 'app.db')
      const expected = await leaveDirtyLog(dir)
      const out = capture()
      const code = await run([dir, '--store', dbPath, '--create-table'], out)
      assert.equal(code, 0, out.text())
      assert.match(out.text(), /25 keys to flush/)
      assert.match(out.text(), /flushed 25 of 25 keys/)
      assert.match(out.text(), /close: drained, 0 unflushed/)
      assert.ok(!out.text().includes('\r') && !out.text().includes('\u001b'), 'no control characters when the output is not a terminal')
      assertStoreHolds(dbPath, expected)

      // The checkpoint moved on: a second run finds nothing to do and changes nothing.
      const again = capture()
      assert.equal(await run([dir, '--store', dbPath], again), 0, again.text())
      assert.match(again.text(), /0 keys to flush/)
      assertStoreHolds(dbPath, expected)
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('writes into the table given by --table', async () => {
    const root = await tempDir()
    try {
      const dir = join(root, 'cache')
      const dbPath = join(root, 'app.db')
      const expected = await leaveDirtyLog(dir)
      const out = capture()
      assert.equal(await run([dir, '--store', dbPath, '--table', 'recovered_rows', '--create-table'], out), 0, out.text())
      assertStoreHolds(dbPath, expected, 'recovered_rows')
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('exits 69 and leaves the dir unchanged when the store cannot be opened, and a later run succeeds', async () => {
    const root = await tempDir()
    try {
      const dir = join(root, 'cache')
      const dbPath = join(root, 'app.db')
      const expected = await leaveDirtyLog(dir)
      const before = await snapshot(dir)
      const out = capture()
      // A directory is not a database file: refused before the dir is touched.
      const code = await run([dir, '--store', root, '--timeout', '300'], out)
      assert.equal(code, 69, out.text())
      assert.match(out.text(), /is not a file/)
      assert.deepEqual(await snapshot(dir), before, 'the dir is byte for byte as it was')

      const retry = capture()
      assert.equal(await run([dir, '--store', dbPath, '--create-table'], retry), 0, retry.text())
      assertStoreHolds(dbPath, expected)
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('rejects bad usage with exit 64 and a missing directory with exit 66', async () => {
    const root = await tempDir()
    try {
      const noStore = capture()
      assert.equal(await run([root], noStore), 64)
      assert.match(noStore.text(), /needs --store/)
      assert.match(noStore.text(), /Usage: writebehind recover/)

      const noDir = capture()
      assert.equal(await run(['--store', join(root, 'x.db')], noDir), 64)
      assert.match(noDir.text(), /needs the cache directory/)

      const badTimeout = capture()
      assert.equal(await run([root, '--store', join(root, 'x.db'), '--timeout', 'soon'], badTimeout), 64)
      assert.match(badTimeout.text(), /--timeout must be a whole number/)

      const empty = capture()
      assert.equal(await run([root, '--store', join(root, 'x.db')], empty), 66)
      assert.match(empty.text(), /not a writebehind cache directory/)
      assert.deepEqual(await readdir(root), [], 'recover creates nothing in a directory that is not a cache dir')

      const missing = capture()
      assert.equal(await run([join(root, 'nope'), '--store', join(root, 'x.db')], missing), 66)
      assert.match(missing.text(), /no such directory/)

      const help = capture()
      assert.equal(await run(['--help'], help), 0)
      assert.match(help.text(), /--store/)
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})
