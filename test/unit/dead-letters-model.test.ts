// Property tests of the dead-letter queue: random adds and removes match a simple model, in
// memory and after reopen; a file cut at ANY byte reads as a prefix of its whole lines; a flipped
// byte is either a torn last line or a LogCorruptionError, never other data.
import { describe, it, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import type { DeadLetter } from '../../src/contracts/dead-letters.js'
import { DeadLetterQueue } from '../../src/dead-letters/queue.js'
import { encodeRecord, parseLog, type DeadLetterRecord } from '../../src/dead-letters/file.js'
import { LogCorruptionError } from '../../src/errors.js'

type Step = { op: 'add'; letters: DeadLetter[] } | { op: 'remove'; refs: { key: string; version: number }[] }

const keyArb = fc.constantFrom('a', 'b', 'c', 'd', 'ключ', 'emoji-🙂')
const letterArb: fc.Arbitrary<DeadLetter> = fc.record(
  {
    key: keyArb,
    version: fc.integer({ min: 1, max: 20 }),
    kind: fc.constant('set' as const),
    encoded: fc.json(),
    error: fc.record({ name: fc.constant('StoreError'), message: fc.string(), retryable: fc.boolean() }, { noNullPrototype: true }),
    attempts: fc.nat(10),
    firstFailedAt: fc.nat(1_000),
    lastFailedAt: fc.nat(1_000),
  },
  { noNullPrototype: true },
)
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant('add' as const), letters: fc.array(letterArb, { minLength: 1, maxLength: 3 }) }, { noNullPrototype: true }),
  fc.record(
    {
      op: fc.constant('remove' as const),
      refs: fc.array(fc.record({ key: keyArb, version: fc.integer({ min: 1, max: 20 }) }, { noNullPrototype: true }), { minLength: 1, maxLength: 2 }),
    },
    { noNullPrototype: true },
  ),
)

/** The queue's rules written as plainly as possible, as the reference. */
function model(steps: readonly Step[]): DeadLetter[] {
  let live: DeadLetter[] = []
  for (const step of steps) {
    if (step.op === 'remove') {
      for (const ref of step.refs) live = live.filter((l) => !(l.key === ref.key && l.version <= ref.version))
      continue
    }
    for (const letter of step.letters) {
      const current = live.find((l) => l.key === letter.key)
      if (current !== undefined && letter.version < current.version) continue
      const firstFailedAt = current?.version === letter.version ? Math.min(current.firstFailedAt, letter.firstFailedAt) : letter.firstFailedAt
      live = [...live.filter((l) => l.key !== letter.key), { ...letter, firstFailedAt }]
    }
  }
  return live
}

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wb-dlq-model-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('DeadLetterQueue against a model', () => {
  it('random adds and removes give the model state, also after reopen and compaction', async () => {
    let run = 0
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { maxLength: 25 }), async (steps) => {
        const at = join(dir, `run-${run++}`)
        let queue = await DeadLetterQueue.open(at)
        for (const step of steps) await (step.op === 'add' ? queue.add(step.letters) : queue.remove(step.refs))
        const expected = model(steps)
        assert.deepEqual(queue.list(), expected)
        await queue.close()
        queue = await DeadLetterQueue.open(at) // may compact
        assert.deepEqual(queue.list(), expected)
        await queue.close()
        queue = await DeadLetterQueue.open(at)
        assert.deepEqual(queue.list(), expected)
        await queue.close()
      }),
      { numRuns: 60, seed: 20261123 },
    )
  })
})

describe('dead-letter file damage', () => {
  const records: DeadLetterRecord[] = [
    { op: 'add', key: 'a', version: 1, kind: 'set', encoded: '"héllo"', error: { name: 'E', message: 'x', retryable: false }, attempts: 1, firstFailedAt: 1, lastFailedAt: 2 },
    { op: 'add', key: 'b', version: 2, kind: 'delete', encoded: null, error: { name: 'E', code: 'C', message: 'y', retryable: true }, attempts: 3, firstFailedAt: 1, lastFailedAt: 2 },
    { op: 'remove', key: 'a', version: 1 },
    { op: 'add', key: 'c🙂', version: 9, kind: 'set', encoded: '{"n":[1,2]}', error: { name: 'E', message: 'z\nw', retryable: false }, attempts: 8, firstFailedAt: 5, lastFailedAt: 6 },
  ]
  const lines = records.map(encodeRecord)
  const bytes = Buffer.from(lines.join(''), 'utf8')
  const lineEnds = lines.reduce<number[]>((ends, line) => [...ends, (ends.at(-1) ?? 0) + Buffer.byteLength(line)], [])

  it('reads every whole line back unchanged', () => {
    assert.deepEqual(parseLog(bytes, 'f'), { records, validBytes: bytes.length, tornBytes: 0 })
  })

  it('a cut at any byte keeps exactly the whole lines before it', () => {
    for (let cut = 0; cut <= bytes.length; cut++) {
      const whole = lineEnds.filter((end) => end <= cut).length
      const parsed = parseLog(bytes.subarray(0, cut), 'f')
      assert.deepEqual(parsed.records, records.slice(0, whole), `cut at ${cut}`)
      assert.equal(parsed.validBytes, whole === 0 ? 0 : lineEnds[whole - 1])
      assert.equal(parsed.validBytes + parsed.tornBytes, cut)
    }
  })

  it('a changed byte anywhere is a torn last line or a LogCorruptionError, never other data', () => {
    const lastStart = lineEnds.at(-2)!
    for (let at = 0; at < bytes.length; at++) {
      for (const flip of [0x01, 0x20, 0x0a ^ 0x7b]) {
        const damaged = Buffer.from(bytes)
        damaged[at] = damaged[at]! ^ flip
        let parsed
        try {
          parsed = parseLog(damaged, 'f')
        } catch (error) {
          assert.ok(error instanceof LogCorruptionError, `byte ${at}: ${String(error)}`)
          assert.ok(error.offset <= at, `reported at the start of the damaged line (byte ${at}, offset ${error.offset})`)
          continue
        }
        assert.ok(at >= lastStart, `byte ${at} in an earlier line must not be ignored`)
        assert.deepEqual(parsed.records, records.slice(0, -1), `byte ${at}`)
      }
    }
  })

  it('a newline flipped between the last two lines is corruption, not a torn tail', () => {
    const damaged = Buffer.from(bytes)
    const newline = lineEnds.at(-2)! - 1
    assert.equal(damaged[newline], 0x0a)
    damaged[newline] = 0x20
    assert.throws(() => parseLog(damaged, 'f'), LogCorruptionError)
  })

  it('a tail of zeros (size grew, data lost) reads as torn', () => {
    const parsed = parseLog(Buffer.concat([bytes, Buffer.alloc(4096)]), 'f')
    assert.deepEqual(parsed.records, records)
    assert.equal(parsed.tornBytes, 4096)
  })
})
