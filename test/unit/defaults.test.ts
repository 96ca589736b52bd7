/**
 * `DEFAULTS` is the one table of defaults: the README's options table and the `@default` of each
 * option must say the same values. The README is read as a user reads it (`256 MiB`, `30_000`,
 * `'wait'`, `unbounded`, `none`), by a small parser; the last tests show the check catches a
 * changed number or a missing row.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEFAULTS } from '../../src/contracts/defaults.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8')
const README = read('README.md')

/** Rows whose default is not a plain value, so `DEFAULTS` leaves them out (see defaults.ts). */
const NOT_IN_DEFAULTS = ['store', 'flush.triggerEntries', 'codec', 'clock', 'warn']
const UNITS: Record<string, number> = { KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }

/** A default as the docs write it, as a value; `undefined` when the text is not a plain value. */
function parseDefault(text: string): { value: unknown } | undefined {
  const t = text.replaceAll('`', '').trim()
  const conditional = /^(.+) with a dir, else (.+)$/.exec(t)
  if (conditional !== null) {
    const withDir = parseDefault(conditional[1] as string)
    const withoutDir = parseDefault(conditional[2] as string)
    return withDir === undefined || withoutDir === undefined ? undefined : { value: { withDir: withDir.value, withoutDir: withoutDir.value } }
  }
  if (t === 'none' || t === 'off') return { value: undefined }
  if (t === 'unbounded') return { value: Infinity }
  if (t === 'true' || t === 'false') return { value: t === 'true' }
  const quoted = /^'([^']*)'$/.exec(t)
  if (quoted !== null) return { value: quoted[1] }
  if (/^\d[\d_]*$/.test(t)) return { value: Number(t.replaceAll('_', '')) }
  const size = /^(\d+) ([KMG]iB)$/.exec(t)
  if (size !== null) return { value: Number(size[1]) * (UNITS[size[2] as string] as number) }
  return undefined
}

/** `{ flush: { intervalMs: 500 } }` → `{ 'flush.intervalMs': 500 }`. */
function flatten(value: unknown, prefix: string, out = new Map<string, unknown>()): Map<string, unknown> {
  if (typeof value === 'object' && value !== null) {
    for (const [key, inner] of Object.entries(value)) flatten(inner, prefix === '' ? key : `${prefix}.${key}`, out)
  } else {
    out.set(prefix, value)
  }
  return out
}

const FLAT_DEFAULTS = flatten(DEFAULTS, '')

/** The rows of the README's "## Options" table: each option named in the first cell, and the default cell. */
function optionRows(readme: string): Array<{ name: string; cell: string }> {
  const start = readme.indexOf('\n## Options\n')
  assert.notEqual(start, -1, 'the README has an "## Options" section')
  const end = readme.indexOf('\n## ', start + 1)
  const lines = readme
    .slice(start, end === -1 ? undefined : end)
    .split('\n')
    .filter((line) => line.startsWith('|'))
  return lines.slice(2).flatMap((line) => {
    const cells = line.split(/(?<!\\)\|/).map((cell) => cell.trim())
    const names = (cells[1] ?? '').split(',').map((name) => name.replaceAll('`', '').trim())
    return names.map((name) => ({ name, cell: cells[2] ?? '' }))
  })
}

/** Every way the README's options table and `DEFAULTS` disagree; empty when they agree. */
function mismatches(readme: string): string[] {
  const problems: string[] = []
  const covered = new Set<string>()
  for (const { name, cell } of optionRows(readme)) {
    if (NOT_IN_DEFAULTS.includes(name)) {
      covered.add(name)
      continue
    }
    const parsed = parseDefault(cell)
    if (parsed === undefined) {
      problems.push(`${name}: cannot read the default "${cell}" (a plain value, or add it to NOT_IN_DEFAULTS)`)
      continue
    }
    for (const [path, value] of flatten(parsed.value, name)) {
      covered.add(path)
      if (!FLAT_DEFAULTS.has(path)) problems.push(`${path}: the README gives a default, DEFAULTS has none`)
      else if (!Object.is(FLAT_DEFAULTS.get(path), value)) problems.push(`${path}: the README says ${String(value)}, DEFAULTS says ${String(FLAT_DEFAULTS.get(path))}`)
    }
  }
  for (const path of [...FLAT_DEFAULTS.keys(), ...NOT_IN_DEFAULTS]) {
    if (!covered.has(path)) problems.push(`${path}: no row in the README's options table`)
  }
  return problems
}

function valueAt(path: string): unknown {
  return path.split('.').reduce<unknown>((at, key) => (at as Record<string, unknown>)[key], DEFAULTS)
}

/** The `@default <value> (DEFAULTS.<path>)` citations of a source file. */
function citations(file: string): Array<{ path: string; text: string }> {
  return [...read(file).matchAll(/@default (.+?) \(DEFAULTS\.([\w.]+)\)/g)].map((m) => ({ text: m[1] as string, path: m[2] as string }))
}

describe('DEFAULTS, the one table of defaults', () => {
  it('is frozen, groups included', () => {
    assert.ok(Object.isFrozen(DEFAULTS))
    for (const value of Object.values(DEFAULTS)) if (typeof value === 'object') assert.ok(Object.isFrozen(value))
  })

  it("agrees with every row of the README's options table, and every entry has a row", () => {
    assert.deepEqual(mismatches(README), [])
  })

  for (const file of ['src/contracts/options.ts', 'src/log/types.ts']) {
    it(`agrees with every @default that ${file} cites from it`, () => {
      for (const { path, text } of citations(file)) {
        const parsed = parseDefault(text)
        assert.ok(parsed !== undefined, `${file}: cannot read @default ${text}`)
        assert.deepEqual(parsed.value, valueAt(path), `${file}: @default ${text} (DEFAULTS.${path})`)
      }
    })
  }

  it('is cited by the @default of every option it holds', () => {
    const cited = new Set(citations('src/contracts/options.ts').flatMap(({ path }) => [...flatten(valueAt(path), path).keys()]))
    assert.deepEqual(
      [...FLAT_DEFAULTS.keys()].filter((path) => !cited.has(path)),
      [],
    )
  })

  it('the check catches one changed number, a changed size and a missing row', () => {
    const changed = README.replace('| `flush.intervalMs` | `500` |', '| `flush.intervalMs` | `501` |')
    assert.notEqual(changed, README)
    assert.deepEqual(mismatches(changed), ['flush.intervalMs: the README says 501, DEFAULTS says 500'])
    const size = README.replace('| `segmentBytes` | 64 MiB |', '| `segmentBytes` | 32 MiB |')
    assert.notEqual(size, README)
    assert.deepEqual(mismatches(size), [`segmentBytes: the README says ${32 * 1024 ** 2}, DEFAULTS says ${64 * 1024 ** 2}`])
    const missing = README.replace(/^\| `checkStore` \|.*\n/m, '')
    assert.notEqual(missing, README)
    assert.deepEqual(mismatches(missing), ["checkStore: no row in the README's options table"])
  })
})
