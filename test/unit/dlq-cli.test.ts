// `writebehind dlq`: list (read-only, works without the lock), drop (dry run unless --yes, under
// the directory lock), replay through a cache into SQLite, and usage errors with exit codes.
import { describe, it, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { appendFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run } from '../../src/cli/commands/dlq.js'
import { DeadLetterQueue, readDeadLetters } from '../../src/dead-letters/queue.js'
import type { DeadLetter } from '../../src/contracts/dead-letters.js'
import { DEAD_LETTER_FILE } from '../../src/dead-letters/file.js'
import { acquireLock, releaseLock, LOCK_FILE } from '../../src/log/lock.js'
import { runCaptured } from '../helpers/capture.js'

function letter(key: string, version: number): DeadLetter {
  return {
    key,
    version,
    kind: 'set',
    encoded: '{"n":1}',
    error: { name: 'StoreError', code: 'E_POISON', message: `bad row ${key}`, retryable: false },
    attempts: 2,
    firstFailedAt: Date.UTC(2026, 0, 1),
    lastFailedAt: Date.UTC(2026, 0, 1, 0, 0, 5),
  }
}

let dir: string
let file: string

async function cli(...args: string[]): Promise<{ code: number; text: string }> {
  return runCaptured(run, args)
}

const keysLeft = async () => (await readDeadLetters(dir)).letters.map((l) => l.key)

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wb-dlq-cli-'))
  file = join(dir, DEAD_LETTER_FILE)
  const queue = await DeadLetterQueue.open(dir)
  await queue.add([letter('user:1', 4), letter('user:2', 7), letter('order:9', 2)])
  await queue.close()
})

afterEach(async () => {
  releaseLock(dir)
  await rm(dir, { recursive: true, force: true })
})

describe('dlq list', () => {
  it('prints one line per dead letter with its error, and a count', async () => {
    const { code, text } = await cli('list', dir)
    assert.equal(code, 0)
    const lines = text.trim().split('\n')
    assert.equal(lines.length, 4)
    assert.match(lines[0]!, /^user:1\tv4\tset\tattempts=2\t2026-01-01T00:00:05.000Z\tStoreError \[E_POISON\]: bad row user:1$/)
    assert.equal(lines[3], '3 dead letters')
  })

  it('keeps one letter on one line: control characters in keys and messages are escaped', async () => {
    const queue = await DeadLetterQueue.open(dir)
    await queue.add([{ ...letter('multi\nline\tkey\u007f', 1), error: { name: 'Error', message: 'ERROR: bad\nDETAIL: row 3', retryable: false } }])
    await queue.close()
    const { text } = await cli('list', dir, '--prefix', 'multi')
    const lines = text.trim().split('\n')
    assert.equal(lines.length, 2)
    assert.equal(lines[0]!.split('\t').length, 6)
    assert.match(lines[0]!, /^multi\\nline\\tkey\\u007f\t.*ERROR: bad\\nDETAIL: row 3$/)
  })

  it('prints JSON with --json and filters with --prefix', async () => {
    const { code, text } = await cli('list', dir, '--json', '--prefix', 'user:')
    assert.equal(code, 0)
    assert.deepEqual(JSON.parse(text), [letter('user:1', 4), letter('user:2', 7)])
    const human = await cli('list', dir, '--prefix', 'order:')
    assert.match(human.text, /^order:9\t/)
    assert.match(human.text, /1 dead letter \(of 3\)/)
  })

  it('only reads: works while a cache holds the dir and leaves a torn tail alone', async () => {
    await acquireLock(dir)
    await appendFile(file, '{"crc":"0000')
    const before = await readFile(file)
    const { code, text } = await cli('list', dir)
    assert.equal(code, 0)
    assert.match(text, /3 dead letters/)
    assert.match(text, /ignored 12 bytes/)
    assert.deepEqual(await readFile(file), before)
  })

  it('fails with exit 66 on a missing dir, 65 on a corrupt file', async () => {
    const missing = await cli('list', join(dir, 'nope'))
    assert.equal(missing.code, 66)
    assert.match(missing.text, /no such directory/)
    await rm(file)
    await appendFile(file, 'garbage\n{"crc":"00000000","op":"remove","key":"a","version":1}\n')
    const corrupt = await cli('list', dir)
    assert.equal(corrupt.code, 65)
    assert.match(corrupt.text, /corrupt in .*dead-letters\.log at offset 0/)
  })

  it('an empty dir lists nothing', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'wb-dlq-cli-empty-'))
    try {
      assert.deepEqual(await cli('list', empty), { code: 0, text: '0 dead letters\n' })
      await assert.rejects(stat(join(empty, DEAD_LETTER_FILE)), { code: 'ENOENT' })
    } finally {
      await rm(empty, { recursive: true, force: true })
    }
  })
})

describe('dlq drop', () => {
  it('without --yes only says what it would drop', async () => {
    const before = await readFile(file)
    const { code, text } = await cli('drop', dir, '--prefix', 'user:')
    assert.equal(code, 0)
    assert.match(text, /Would drop 2 dead letters/)
    assert.match(text, /user:1\t/)
    assert.match(text, /--yes/)
    assert.deepEqual(await readFile(file), before)
  })

  it('drops by --key (repeatable), --prefix and --all with --yes, durably', async () => {
    assert.deepEqual(await cli('drop', dir, '--key', 'user:1', '--key', 'order:9', '--key', 'nope', '--yes'), { code: 0, text: 'Dropped 2 dead letters.\n' })
    assert.deepEqual(await keysLeft(), ['user:2'])
    const queue = await DeadLetterQueue.open(dir)
    await queue.add([letter('user:3', 1), letter('x', 1)])
    await queue.close()
    assert.equal((await cli('drop', dir, '--prefix', 'user:', '--yes')).code, 0)
    assert.deepEqual(await keysLeft(), ['x'])
    assert.deepEqual(await cli('drop', dir, '--all', '--yes'), { code: 0, text: 'Dropped 1 dead letter.\n' })
    assert.deepEqual(await keysLeft(), [])
    await assert.rejects(stat(join(dir, LOCK_FILE)), { code: 'ENOENT' }, 'the lock is released')
  })

  it('refuses while a cache holds the dir', async () => {
    await acquireLock(dir)
    const { code, text } = await cli('drop', dir, '--all', '--yes')
    assert.equal(code, 75)
    assert.match(text, /in use by another writebehind process|already open in this process/)
    assert.equal((await keysLeft()).length, 3)
  })

  it('needs exactly one kind of selection', async () => {
    const none = await cli('drop', dir, '--yes')
    assert.equal(none.code, 64)
    assert.match(none.text, /--key K/)
    assert.equal((await cli('drop', dir, '--all', '--prefix', 'u', '--yes')).code, 64)
    assert.equal((await keysLeft()).length, 3)
  })
})

describe('dlq replay', () => {
  it('replays the selected letters into the --store given and removes only what the store took', async () => {
    const db = join(dir, 'app.db')
    const { default: Database } = await import('better-sqlite3')
    const setup = new Database(db)
    // The built-in table, refusing user:2 for good. The batch is bisected and user:1, the first
    // half, lands: proof that the store takes writes, so user:2 is dead-lettered again, not held.
    setup.exec(
      `CREATE TABLE writebehind_entries ("key" TEXT NOT NULL PRIMARY KEY CHECK ("key" <> 'user:2'), "value" TEXT, ` +
        `"version" INTEGER NOT NULL, "deleted" INTEGER NOT NULL DEFAULT 0, "updated_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))) WITHOUT ROWID`,
    )
    setup.close()
    const { code, text } = await cli('replay', dir, '--store', db, '--prefix', 'user:')
    const sqlite = new Database(db, { readonly: true })
    const rows = sqlite.prepare('SELECT key, version FROM writebehind_entries ORDER BY key').all()
    sqlite.close()
    assert.deepEqual(rows, [{ key: 'user:1', version: 4 }], 'the letter went to the --store given')
    const left = (await readDeadLetters(dir)).letters
    assert.match(left.find((l) => l.key === 'user:2')!.error.message, /CHECK constraint failed/, 'user:2 was tried')
    assert.deepEqual(
      left.find((l) => l.key === 'order:9'),
      letter('order:9', 2),
      'order:9 was not selected',
    )
    assert.equal(code, 1, 'not everything was replayed')
    assert.match(text, /Replayed 1 dead letter; 0 superseded by newer writes; 1 failed again \(still in the queue\)/)
    assert.deepEqual((await keysLeft()).sort(), ['order:9', 'user:2'])
  })

  it('replays through a cache into the SQLite store, with the original versions', async () => {
    const db = join(dir, 'app.db')
    const { code, text } = await cli('replay', dir, '--store', db, '--create-table', '--prefix', 'user:')
    assert.equal(code, 0, text)
    assert.match(text, /Replayed 2 dead letters; 0 superseded by newer writes; 0 failed again/)
    assert.deepEqual(await keysLeft(), ['order:9'])
    const { default: Database } = await import('better-sqlite3')
    const sqlite = new Database(db, { readonly: true })
    const rows = sqlite.prepare('SELECT key, value, version FROM writebehind_entries ORDER BY key').all()
    sqlite.close()
    assert.deepEqual(rows, [
      { key: 'user:1', value: '{"n":1}', version: 4 },
      { key: 'user:2', value: '{"n":1}', version: 7 },
    ])
    assert.equal((await cli('replay', dir)).code, 64, '--store is required')
  })
})

describe('dlq usage', () => {
  it('exits 64 with the usage for unknown commands, options and extra arguments', async () => {
    for (const args of [[], ['frobnicate', dir], ['list'], ['list', dir, '--bogus'], ['list', dir, 'extra'], ['list', dir, '--all']]) {
      const { code, text } = await cli(...args)
      assert.equal(code, 64, args.join(' '))
      assert.match(text, /Usage:/)
    }
  })
})
