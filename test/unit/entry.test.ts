import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Entry, smallInt, Undo } from '../../src/tier/embedded/entry.js'
import { MemoryTier } from '../../src/tier/embedded/memory-tier.js'
import type { SealedGroup } from '../../src/tier/embedded/merges.js'

/** Whether the entry made its side object for rare state (a private field: read it reflectively). */
function hasRare(entry: Entry): boolean {
  return Reflect.get(entry, 'rare') !== undefined
}

const SEALED: SealedGroup = { version: 3, merge: 'sum', operand: 2, result: '5' }

type Field = 'pinned' | 'undo' | 'merge' | 'operand' | 'sealed'
const DEFAULTS = { pinned: false, undo: undefined, merge: undefined, operand: 0, sealed: undefined }

describe('Entry rare state', () => {
  it('reads back what was set, like plain fields, and makes its side object only for a value other than the default', () => {
    const undo = new Undo()
    const values: { [F in Field]: Array<Entry[F]> } = {
      pinned: [false, true],
      undo: [undefined, undo],
      merge: [undefined, 'sum', 'max', 'min'],
      operand: [0, 1, -2.5],
      sealed: [undefined, SEALED],
    }
    const step = fc.constantFrom(...(Object.keys(values) as Field[])).chain((field) => fc.tuple(fc.constant(field), fc.constantFrom(...(values[field] as unknown[]))))
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
        const entry = new Entry('k', 'v', 1)
        const model: Record<Field, unknown> = { ...DEFAULTS }
        let everSet = false
        for (const [field, value] of steps) {
          ;(entry as unknown as Record<Field, unknown>)[field] = value
          model[field] = value
          if (value !== DEFAULTS[field]) everSet = true
          for (const f of Object.keys(DEFAULTS) as Field[]) assert.equal(entry[f], model[f], f)
          assert.equal(hasRare(entry), everSet)
        }
      }),
    )
  })

  it('plain writes, rewrites, deletes and a clean pass leave every entry without one', () => {
    const memory = new MemoryTier({ maxEntries: 100, maxBytes: 1e9 })
    const entries: Entry[] = []
    for (let v = 1; v <= 60; v++) {
      const entry = memory.write(`k${v % 20}`, v % 7 === 0 ? null : `{"n":${v}}`, v)
      entry.merge = undefined // what the tier's write of a whole value does
      entry.sealed = undefined
      if (v % 3 === 0) memory.markClean(entry)
      entries.push(entry)
    }
    assert.ok(entries.every((e) => !hasRare(e)))
    assert.equal(entries.filter((e) => e.encoded !== null).length > 0, true)
    memory.pin(entries[5] as Entry)
    assert.equal(hasRare(entries[5] as Entry), true)
    assert.equal((entries[5] as Entry).pinned, true)
  })
})

describe('Entry version', () => {
  // The first dirty version is kept as a distance stored through smallInt (entry.ts); versions come
  // from a µs clock (about 2^50 today), from stores (any non-negative integer a store held) and
  // count up from 1 in tests.
  const version = fc.oneof(
    fc.integer({ min: 0, max: 2 ** 31 }),
    fc.integer({ min: 2 ** 31, max: Number.MAX_SAFE_INTEGER }),
    fc.constantFrom(2 ** 30 - 1, 2 ** 30, 2 ** 30 + 1, Number.MAX_SAFE_INTEGER),
  )

  it('reads back every version it was given, and keeps the first dirty version across rewrites', () => {
    fc.assert(
      fc.property(version, fc.array(fc.nat({ max: 2 ** 40 }), { maxLength: 5 }), (first, steps) => {
        const entry = new Entry('k', 'v', first)
        assert.equal(entry.version, first)
        entry.dirtySince = 1 // dirty from here: dirtyVersion stays at the version it was dirtied at
        let current = first
        for (const step of steps) {
          const next = Math.min(current + step + 1, Number.MAX_SAFE_INTEGER)
          entry.rewrite('w', next)
          assert.equal(entry.version, next)
          assert.equal(entry.dirtyVersion, first)
          current = next
        }
      }),
      { numRuns: 1000 },
    )
  })
})

describe('smallInt', () => {
  it('gives back the same number, whatever it is', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.double({ noNaN: true }), fc.constantFrom(2 ** 31, -(2 ** 31), 2 ** 32 + 5, 0.5, -1.5)), (n) => {
        assert.ok(Object.is(smallInt(n), n) || (n === 0 && smallInt(n) === 0), `${n}`)
      }),
    )
  })
})
