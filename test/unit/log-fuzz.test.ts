import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { basename } from 'node:path'
import { describe, it } from 'node:test'
import { crc32 } from 'node:zlib'
import { crc32 as fastCrc32, NATIVE_CRC_THRESHOLD } from '../../src/log/crc32.js'
import fc from 'fast-check'
import { LogCorruptionError, LogFormatError } from '../../src/errors.js'
import { DirtyLog } from '../../src/log/dirty-log.js'
import { encodeRecord, maxEncodedBytes, scanRecords, segmentHeader } from '../../src/log/record.js'
import type { LogRecord } from '../../src/log/types.js'
import { copyLog, makeRecords, segmentPaths, tempDir, writeLog } from './log-helpers.js'

/** Fuzz budget: `WB_FUZZ_RUNS=20 npm test -- test/unit/log-fuzz.test.ts` runs 20x the default. */
const runs = (n: number) => n * Math.max(1, Number(process.env.WB_FUZZ_RUNS ?? 1) || 1)

/** Every record the scanner yields must re-encode to exactly the bytes it came from (so its CRC held). */
function assertScanIsSound(buf: Buffer): void {
  const scratch = Buffer.alloc(buf.length * 3 + 64)
  scanRecords(buf, 0, 0, (record, offset) => {
    const end = encodeRecord(scratch, 0, record)
    assert.ok(scratch.subarray(0, end).equals(buf.subarray(offset, offset + end)), `record at ${offset} does not match its bytes`)
  })
}

/** A valid record stream (no segment header) for `records`. */
function encodeAll(records: LogRecord[]): Buffer {
  const buf = Buffer.alloc(records.reduce((n, r) => n + maxEncodedBytes(r), 0))
  let end = 0
  for (const record of records) end = encodeRecord(buf, end, record)
  return buf.subarray(0, end)
}

const recordsArb = fc
  .array(
    fc.record({
      kind: fc.constantFrom('set', 'delete', 'merge', 'seal'),
      key: fc.string({ unit: 'grapheme', maxLength: 12 }),
      value: fc.string({ unit: 'grapheme', maxLength: 40 }),
      merge: fc.constantFrom('sum', 'max', 'min'),
      operand: fc.double({ noNaN: true, noDefaultInfinity: true }),
    }),
    { maxLength: 12 },
  )
  .map((items) => items.map((it, i): LogRecord => toRecord(it, i + 2)))

/** Versions start at 2 so that a seal always has a version below its own to seal. */
function toRecord(it: { kind: string; key: string; value: string; merge: 'sum' | 'max' | 'min'; operand: number }, version: number): LogRecord {
  const { key } = it
  if (it.kind === 'delete') return { kind: 'delete', key, version, encoded: null }
  if (it.kind === 'merge') return { kind: 'merge', key, version, merge: it.merge, operand: it.operand, encoded: it.value }
  if (it.kind === 'seal') return { kind: 'seal', key, version, sealed: version - 1, encoded: null }
  return { kind: 'set', key, version, encoded: it.value }
}

const mutationArb = fc.oneof(
  fc.record({ type: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ type: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ type: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ type: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
)

interface Mutation {
  type: 'flip' | 'set' | 'cut' | 'insert'
  at: number
  bit?: number
  byte?: number
  bytes?: Uint8Array
}

function mutate(buf: Buffer, m: Mutation): Buffer {
  if (buf.length === 0) return buf
  const at = m.at % buf.length
  const out = Buffer.from(buf)
  if (m.type === 'flip') out[at] = (out[at] ?? 0) ^ (1 << (m.bit ?? 0))
  if (m.type === 'set') out[at] = m.byte ?? 0
  if (m.type === 'cut') return out.subarray(0, at)
  if (m.type === 'insert') return Buffer.concat([out.subarray(0, at), Buffer.from(m.bytes ?? []), out.subarray(at)])
  return out
}

describe('crc32', () => {
  it('the JS slicing-by-8 CRC equals zlib.crc32 for every length and offset, on both sides of the threshold', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: NATIVE_CRC_THRESHOLD * 2 }), fc.nat({ max: 9 }), (bytes, pad) => {
        const buf = Buffer.concat([Buffer.alloc(pad, 0xa5), Buffer.from(bytes)])
        assert.equal(fastCrc32(buf, pad, buf.length), crc32(buf.subarray(pad)))
      }),
      { numRuns: runs(2000) },
    )
  })
})

describe('record reader fuzz', () => {
  it('random bytes: never throws, never yields a record whose checksum fails', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        assertScanIsSound(Buffer.from(bytes))
      }),
      { numRuns: runs(3000) },
    )
  })

  it('random bytes behind a valid frame length: still sound', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 13, maxLength: 200 }), (body) => {
        const frame = Buffer.alloc(12 + body.length)
        frame.writeUInt32LE(body.length, 0)
        frame.writeUInt32LE(~body.length >>> 0, 4)
        Buffer.from(body).copy(frame, 12)
        assertScanIsSound(frame)
      }),
      { numRuns: runs(3000) },
    )
  })

  it('random bodies with a CORRECT checksum: never throws; what it yields passed its checksum and field checks', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 13, maxLength: 120 }), fc.constantFrom(1, 2, 7), fc.nat({ max: 40 }), (body, type, keyLen) => {
        const b = Buffer.from(body)
        b[0] = type
        b.writeUInt32LE(0, 5) // keep the version within Number.MAX_SAFE_INTEGER now and then
        b.writeUInt32LE(keyLen, 9)
        const frame = Buffer.alloc(12 + b.length)
        frame.writeUInt32LE(b.length, 0)
        frame.writeUInt32LE(~b.length >>> 0, 4)
        frame.writeUInt32LE(crc32(b), 8)
        b.copy(frame, 12)
        const seen: LogRecord[] = []
        const result = scanRecords(frame, 0, 0, (record) => seen.push(record))
        for (const record of seen) {
          assert.ok(record.version > 0 && Number.isSafeInteger(record.version))
          assert.equal(record.kind === 'delete', record.encoded === null)
        }
        assert.equal(seen.length + (result.problem === undefined ? 0 : 1), 1)
        if (type === 7 || 13 + keyLen > b.length) assert.equal(seen.length, 0)
      }),
      { numRuns: runs(3000) },
    )
  })

  it('valid streams with random mutations: the intact records are a prefix of the originals', () => {
    fc.assert(
      fc.property(recordsArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (records, mutations) => {
        let buf = encodeAll(records)
        for (const m of mutations) buf = mutate(buf, m)
        assertScanIsSound(buf)
        const seen: LogRecord[] = []
        scanRecords(buf, 0, 0, (record) => seen.push(record))
        assert.deepEqual(seen, records.slice(0, seen.length))
      }),
      { numRuns: runs(2000) },
    )
  })

  it('valid streams round-trip through the scanner unchanged', () => {
    fc.assert(
      fc.property(recordsArb, (records) => {
        const seen: LogRecord[] = []
        const result = scanRecords(encodeAll(records), 0, 0, (record) => seen.push(record))
        assert.equal(result.problem, undefined)
        // Keys and values are UTF-8 on disk: a lone surrogate comes back as U+FFFD, nothing else changes.
        const wellFormed = (s: string | null) => (s === null ? null : Buffer.from(s, 'utf8').toString('utf8'))
        assert.deepEqual(
          seen,
          records.map((r) => ({ ...r, key: wellFormed(r.key)!, encoded: wellFormed(r.encoded) })),
        )
      }),
      { numRuns: runs(500) },
    )
  })
})

describe('DirtyLog.open fuzz', () => {
  it('mutated segment files: open only ever throws LogCorruptionError/LogFormatError, and recovers a prefix', async () => {
    const source = tempDir('fuzz-src')
    const records = makeRecords(30).map((r) => (r.key.length > 50 ? { ...r, key: r.key.slice(0, 20) } : r))
    await writeLog(source, records, { segmentBytes: 1500 })
    const paths = segmentPaths(source)
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: paths.length - 1 }),
        fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
        fc.constantFrom('strict' as const, 'truncate' as const),
        async (which, mutations, recovery) => {
          const path = paths[which]!
          let buf: Buffer = readFileSync(path)
          for (const m of mutations) buf = mutate(buf, m)
          const dir = copyLog(source)
          writeFileSync(`${dir}/${basename(path)}`, buf)
          try {
            const { log, recovered } = await DirtyLog.open({ dir, recovery })
            await log.close()
            assert.deepEqual(recovered.records, records.slice(0, recovered.records.length))
          } catch (error) {
            assert.ok(error instanceof LogCorruptionError || error instanceof LogFormatError, `unexpected ${String(error)}`)
          }
        },
      ),
      { numRuns: runs(150) },
    )
  })

  it('a segment of random bytes: LogFormatError, or a torn tail when it is a prefix of a header', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (bytes) => {
        const dir = tempDir('fuzz-rand')
        writeFileSync(`${dir}/segment-000000000001.wbl`, Buffer.concat([segmentHeader(0).subarray(0, bytes.length % 25), bytes]))
        try {
          const { log } = await DirtyLog.open({ dir })
          await log.close()
        } catch (error) {
          assert.ok(error instanceof LogCorruptionError || error instanceof LogFormatError, `unexpected ${String(error)}`)
        }
      }),
      { numRuns: runs(150) },
    )
  })
})
