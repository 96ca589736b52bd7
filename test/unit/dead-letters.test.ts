// Dead-letter queue: persistence across reopen, one letter per key (newer replaces, older is
// ignored; merge letters fold), removal, torn tail vs corruption, compaction, in-memory mode, file permissions.
import { describe, it, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DeadLetter } from '../../src/contracts/dead-letters.js'
import { DeadLetterQueue, readDeadLetters } from '../../src/dead-letters/queue.js'
import { DEAD_LETTER_FILE, encodeRecord } from '../../src/dead-letters/file.js'
import { CacheClosedError, LogCorruptionError } from '../../src/errors.js'

function letter(key: string, version: number, extra: Partial<DeadLetter> = {}): DeadLetter {
  return {
    key,
    version,
    kind: 'set',
    encoded: JSON.stringify({ key, version }),
    error: { name: 'StoreError', code: 'E_STORE', message: 'value too long', retryable: false },
    attempts: 1,
    firstFailedAt: 1_000 + version,
    lastFailedAt: 2_000 + version,
    ...extra,
  }
}

const keysOf = (letters: readonly DeadLetter[]) => letters.map((l) => `${l.key}@${l.version}`)

let dir: string
let file: string
const opened: DeadLetterQueue[] = []

async function openQueue(at: string | undefined = dir): Promise<DeadLetterQueue> {
  const queue = await DeadLetterQueue.open(at)
  opened.push(queue)
  return queue
}

async function openMemory(): Promise<DeadLetterQueue> {
  const queue = await DeadLetterQueue.open(undefined)
  opened.push(queue)
  return queue
}

async function reopen(queue: DeadLetterQueue): Promise<DeadLetterQueue> {
  await queue.close()
  return openQueue()
}

async function fileLines(): Promise<string[]> {
  return (await readFile(file, 'utf8')).split('\n').filter((line) => line !== '')
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wb-dlq-'))
  file = join(dir, DEAD_LETTER_FILE)
})

afterEach(async () => {
  await Promise.all(opened.splice(0).map((q) => q.close()))
  await rm(dir, { recursive: true, force: true })
})

describe('DeadLetterQueue on disk', () => {
  it('keeps letters, their fields and their order across a reopen', async () => {
    let queue = await openQueue()
    const letters = [letter('b', 3), letter('a', 1, { kind: 'delete', encoded: null, attempts: 8 }), letter('c', 9)]
    await queue.add(letters)
    assert.equal(queue.size, 3)
    queue = await reopen(queue)
    assert.equal(queue.size, 3)
    assert.deepEqual(queue.list(), letters)
  })

  it('is durable once add resolves: a separate reader sees it', async () => {
    const queue = await openQueue()
    await queue.add([letter('k', 1)])
    const { letters } = await readDeadLetters(dir)
    assert.deepEqual(letters, [letter('k', 1)])
  })

  it('keeps one letter per key: a newer version replaces, an older one is ignored', async () => {
    let queue = await openQueue()
    await queue.add([letter('a', 5), letter('b', 1)])
    await queue.add([letter('a', 7, { attempts: 3 })])
    await queue.add([letter('a', 6)])
    assert.deepEqual(keysOf(queue.list()), ['b@1', 'a@7'], 'replaced letter moves to the end')
    assert.equal(queue.list({ keys: ['a'] })[0]!.attempts, 3)
    queue = await reopen(queue)
    assert.deepEqual(keysOf(queue.list()), ['b@1', 'a@7'])
  })

  it('folds merge letters of one key instead of dropping a delta, in either order, also after a reopen', async () => {
    const sum = (version: number, operand: number, result: number) => letter('n', version, { kind: 'merge', merge: 'sum', operand, encoded: String(result) })
    let queue = await openQueue()
    await queue.add([sum(3, 2, 12), sum(5, 5, 17)])
    await queue.add([sum(2, 10, 10)])
    const folded = (q: DeadLetterQueue) => q.list().map((l) => [l.key, l.version, l.kind, l.merge, l.operand, l.encoded, l.firstFailedAt])
    assert.deepEqual(folded(queue), [['n', 5, 'merge', 'sum', 17, '17', 1_002]], 'every delta kept, at the newest version and value')
    queue = await reopen(queue)
    assert.deepEqual(folded(queue), [['n', 5, 'merge', 'sum', 17, '17', 1_002]], 'the file folds the same way')
    await queue.add([letter('m', 1, { kind: 'merge', merge: 'max', operand: 9, encoded: '9' }), letter('m', 2, { kind: 'merge', merge: 'max', operand: 4, encoded: '9' })])
    assert.deepEqual(
      queue.list({ keys: ['m'] }).map((l) => [l.kind, l.operand]),
      [['merge', 9]],
    )
    await queue.add([letter('s', 1, { encoded: '40' }), letter('s', 2, { kind: 'merge', merge: 'sum', operand: 2, encoded: '42' })])
    await queue.add([letter('t', 2, { kind: 'merge', merge: 'min', operand: 1, encoded: '1' }), letter('t', 3, { kind: 'merge', merge: 'sum', operand: 5, encoded: '6' })])
    const asSets = queue.list({ keys: ['s', 't'] }).map((l) => [l.key, l.version, l.kind, l.encoded, 'operand' in l])
    assert.deepEqual(
      asSets,
      [
        ['s', 2, 'set', '42', false],
        ['t', 3, 'set', '6', false],
      ],
      'over a set, or another kind of merge: a set of the whole value',
    )
    await queue.add([letter('n', 9, { encoded: '"x"' }), letter('n', 4, { kind: 'merge', merge: 'sum', operand: 1, encoded: '1' })])
    assert.deepEqual(
      queue.list({ keys: ['n'] }).map((l) => [l.version, l.kind, l.encoded]),
      [[9, 'set', '"x"']],
      'a newer set replaces a merge; an older merge under it changes nothing',
    )
  })

  it('re-adding the same version updates it but keeps the first failure time', async () => {
    const queue = await openQueue()
    await queue.add([letter('a', 5)])
    await queue.add([letter('a', 5, { attempts: 9, firstFailedAt: 99_999, lastFailedAt: 100_000 })])
    const [only] = queue.list()
    assert.equal(only!.attempts, 9)
    assert.equal(only!.firstFailedAt, 1_005)
    assert.equal(only!.lastFailedAt, 100_000)
  })

  it('handles the same key twice in one add, in order', async () => {
    let queue = await openQueue()
    await queue.add([letter('a', 2), letter('a', 1), letter('a', 3)])
    assert.deepEqual(keysOf(queue.list()), ['a@3'])
    queue = await reopen(queue)
    assert.deepEqual(keysOf(queue.list()), ['a@3'])
  })

  it('removes durably, and never removes a newer letter than asked', async () => {
    let queue = await openQueue()
    await queue.add([letter('a', 1), letter('b', 4), letter('c', 2)])
    await queue.remove([
      { key: 'a', version: 1 },
      { key: 'b', version: 3 },
      { key: 'c', version: 5 },
      { key: 'zz', version: 1 },
    ])
    assert.deepEqual(keysOf(queue.list()), ['b@4'])
    queue = await reopen(queue)
    assert.deepEqual(keysOf(queue.list()), ['b@4'])
    assert.equal(queue.size, 1)
  })

  it('writes nothing for adds and removes that change nothing', async () => {
    const queue = await openQueue()
    await queue.add([letter('a', 5)])
    const before = await readFile(file)
    await queue.add([letter('a', 4)])
    await queue.remove([
      { key: 'a', version: 4 },
      { key: 'nope', version: 1 },
    ])
    assert.deepEqual(await readFile(file), before)
  })

  it('serializes concurrent changes: memory and file agree', async () => {
    let queue = await openQueue()
    await Promise.all([queue.add([letter('a', 1), letter('b', 1)]), queue.add([letter('a', 2)]), queue.remove([{ key: 'b', version: 1 }]), queue.add([letter('c', 1)])])
    const inMemory = queue.list()
    assert.deepEqual(keysOf(inMemory), ['a@2', 'c@1'])
    queue = await reopen(queue)
    assert.deepEqual(queue.list(), inMemory)
  })

  it('ignores a torn last line, cuts it off, and appends cleanly after it', async () => {
    let queue = await openQueue()
    await queue.add([letter('a', 1), letter('b', 2)])
    await queue.close()
    const torn = encodeRecord({ op: 'add', ...letter('c', 3) }).slice(0, 40)
    await appendFile(file, torn)
    queue = await openQueue()
    assert.deepEqual(keysOf(queue.list()), ['a@1', 'b@2'])
    assert.equal(queue.tornBytes, Buffer.byteLength(torn))
    await queue.add([letter('d', 4)])
    queue = await reopen(queue)
    assert.deepEqual(keysOf(queue.list()), ['a@1', 'b@2', 'd@4'])
    assert.equal(queue.tornBytes, 0)
  })

  it('treats a terminated last line with a bad checksum as torn too', async () => {
    const queue = await openQueue()
    await queue.add([letter('a', 1)])
    await queue.close()
    const line = encodeRecord({ op: 'add', ...letter('b', 2) }).replace('"b"', '"x"')
    await appendFile(file, line)
    const { letters, tornBytes } = await readDeadLetters(dir)
    assert.deepEqual(keysOf(letters), ['a@1'])
    assert.equal(tornBytes, Buffer.byteLength(line))
  })

  it('throws LogCorruptionError naming the file and offset for a bad line in the middle', async () => {
    const queue = await openQueue()
    await queue.add([letter('a', 1)])
    await queue.add([letter('b', 2)])
    await queue.add([letter('c', 3)])
    await queue.close()
    const lines = await fileLines()
    const offset = Buffer.byteLength(lines[0]! + '\n')
    lines[1] = lines[1]!.replace('value too long', 'value too LONG')
    await writeFile(file, lines.map((l) => `${l}\n`).join(''))
    const check = (error: unknown) => {
      assert.ok(error instanceof LogCorruptionError)
      assert.equal(error.code, 'E_LOG_CORRUPT')
      assert.equal(error.segment, file)
      assert.equal(error.offset, offset)
      assert.match(error.message, /checksum/)
      return true
    }
    await assert.rejects(DeadLetterQueue.open(dir), check)
    await assert.rejects(readDeadLetters(dir), check)
    assert.equal((await fileLines()).length, 3, 'nothing was dropped or rewritten')
  })

  it('treats a line without a crc, or a blank line, in the middle as corruption', async () => {
    const good = encodeRecord({ op: 'add', ...letter('a', 1) })
    await writeFile(file, `${good}{"op":"add"}\n${good}`)
    await assert.rejects(DeadLetterQueue.open(dir), { name: 'LogCorruptionError', message: /crc/ })
    await writeFile(file, `${good}\n${good}`)
    await assert.rejects(DeadLetterQueue.open(dir), LogCorruptionError)
  })

  it('compacts on open to exactly the live letters once the file is past 2x', async () => {
    let queue = await openQueue()
    for (let v = 1; v <= 10; v++) await queue.add([letter('hot', v)])
    await queue.add([letter('x', 1), letter('y', 1), letter('z', 1)])
    await queue.remove([{ key: 'y', version: 1 }])
    const live = queue.list()
    assert.equal((await fileLines()).length, 14)
    queue = await reopen(queue)
    assert.deepEqual(queue.list(), live)
    const lines = await fileLines()
    assert.equal(lines.length, 3)
    assert.deepEqual(
      lines.map((line) => (JSON.parse(line) as DeadLetter).key),
      live.map((l) => l.key),
    )
    await queue.add([letter('w', 1)])
    queue = await reopen(queue)
    assert.deepEqual(keysOf(queue.list()), ['hot@10', 'x@1', 'z@1', 'w@1'])
  })

  it('ignores and removes a temp file left by a crash during compaction', async () => {
    let queue = await openQueue()
    await queue.add([letter('a', 1)])
    await queue.close()
    await writeFile(`${file}.tmp`, 'half a compaction')
    queue = await openQueue()
    assert.deepEqual(keysOf(queue.list()), ['a@1'])
    await assert.rejects(stat(`${file}.tmp`), { code: 'ENOENT' })
  })

  it('does not rewrite a file that has not grown past 2x', async () => {
    let queue = await openQueue()
    await queue.add([letter('a', 1), letter('b', 1)])
    await queue.add([letter('a', 2)])
    const before = await stat(file)
    const bytes = await readFile(file)
    queue = await reopen(queue)
    const after = await stat(file)
    assert.equal(after.ino, before.ino, 'same file, not renamed over')
    assert.deepEqual(await readFile(file), bytes)
    assert.equal(queue.size, 2)
  })

  it('creates the dir and a 0600 file, also after compaction', async () => {
    const nested = join(dir, 'deep', 'er')
    let queue = await openQueue(nested)
    await queue.add([letter('a', 1)])
    assert.equal((await stat(join(nested, DEAD_LETTER_FILE))).mode & 0o777, 0o600)
    await queue.remove([{ key: 'a', version: 1 }])
    await queue.close()
    queue = await openQueue(nested)
    assert.equal(queue.size, 0)
    assert.equal((await stat(join(nested, DEAD_LETTER_FILE))).mode & 0o777, 0o600)
  })

  it('lists with filters and predicates, returning copies', async () => {
    const queue = await openQueue()
    await queue.add([letter('user:1', 5), letter('user:2', 9), letter('order:1', 3)])
    assert.deepEqual(keysOf(queue.list({ prefix: 'user:' })), ['user:1@5', 'user:2@9'])
    assert.deepEqual(keysOf(queue.list({ keys: ['order:1', 'nope'] })), ['order:1@3'])
    assert.deepEqual(keysOf(queue.list({ maxVersion: 5 })), ['user:1@5', 'order:1@3'])
    assert.deepEqual(keysOf(queue.list({ prefix: 'user:', maxVersion: 5 })), ['user:1@5'])
    assert.deepEqual(keysOf(queue.list((l) => l.version > 4)), ['user:1@5', 'user:2@9'])
    const copy = queue.list()[0]!
    copy.error.message = 'mutated'
    copy.version = 1
    assert.equal(queue.list()[0]!.error.message, 'value too long')
    assert.equal(queue.list()[0]!.version, 5)
    assert.throws(() => queue.list({ prefix: 1 as unknown as string }), { name: 'TypeError', message: /prefix/ })
  })

  it('close is safe twice and later changes reject with a typed error', async () => {
    const queue = await openQueue()
    await queue.add([letter('a', 1)])
    await Promise.all([queue.close(), queue.close()])
    await queue.close()
    await assert.rejects(queue.add([letter('b', 1)]), CacheClosedError)
    await assert.rejects(queue.remove([{ key: 'a', version: 1 }]), CacheClosedError)
    assert.equal(queue.size, 1)
  })

  it('a missing file reads as empty without creating anything', async () => {
    const empty = join(dir, 'never-opened')
    assert.deepEqual(await readDeadLetters(empty), { letters: [], records: 0, tornBytes: 0 })
    await assert.rejects(stat(empty), { code: 'ENOENT' })
  })
})

describe('DeadLetterQueue in memory', () => {
  it('works the same without a dir and writes no file', async () => {
    const queue = await openMemory()
    assert.equal(queue.file, undefined)
    await queue.add([letter('a', 1), letter('b', 1)])
    await queue.add([letter('a', 2), letter('b', 1, { attempts: 4 })])
    await queue.remove([{ key: 'b', version: 1 }])
    assert.deepEqual(keysOf(queue.list()), ['a@2'])
    assert.equal(queue.size, 1)
    await queue.close()
    await assert.rejects(stat(file), { code: 'ENOENT' })
  })
})

describe('DeadLetterQueue validation', () => {
  const bad: [string, Partial<DeadLetter> | Record<string, unknown>, RegExp][] = [
    ['empty key', { key: '' }, /letters\[0\]\.key/],
    ['zero version', { version: 0 }, /letters\[0\]\.version/],
    ['fractional version', { version: 1.5 }, /letters\[0\]\.version/],
    ['unknown kind', { kind: 'upsert' }, /letters\[0\]\.kind/],
    ['set without encoded', { encoded: null }, /letters\[0\]\.encoded/],
    ['delete with encoded', { kind: 'delete', encoded: '1' }, /letters\[0\]\.encoded/],
    ['negative attempts', { attempts: -1 }, /letters\[0\]\.attempts/],
    ['NaN time', { lastFailedAt: NaN }, /letters\[0\]\.lastFailedAt/],
    ['error without retryable', { error: { name: 'E', message: 'm' } }, /letters\[0\]\.error/],
  ]
  for (const [name, patch, message] of bad) {
    it(`rejects ${name} with a TypeError naming the field`, async () => {
      const queue = await openMemory()
      await assert.rejects(queue.add([{ ...letter('k', 1), ...(patch as Partial<DeadLetter>) }]), { name: 'TypeError', message })
      assert.equal(queue.size, 0)
    })
  }

  it('rejects bad refs and a bad dir', async () => {
    const queue = await openMemory()
    await assert.rejects(queue.remove([{ key: 'a', version: -1 }]), { name: 'TypeError', message: /refs\[0\]\.version/ })
    await assert.rejects(DeadLetterQueue.open(''), { name: 'TypeError', message: /dir/ })
  })

  it('keeps only the known fields of a letter', async () => {
    const queue = await openQueue()
    await queue.add([{ ...letter('a', 1), secret: 'x', error: { ...letter('a', 1).error, stack: 'at ...' } } as DeadLetter])
    const text = await readFile(file, 'utf8')
    assert.doesNotMatch(text, /secret|stack/)
    assert.deepEqual(queue.list(), [letter('a', 1)])
  })
})
