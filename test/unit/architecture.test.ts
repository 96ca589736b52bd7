/**
 * The source tree's shape, checked: folders form layers and import only downward, and no module
 * imports itself back through others (no circles, type-only imports included). A newcomer can
 * then read a folder knowing what it may depend on:
 *
 *   contracts, errors        interfaces and error classes (errors.ts and the errors/ folder by domain; depend on nothing)
 *   validate                 the one option and argument check, one message style
 *   diagnostics              fixed-bucket histograms and the diagnostics channels (node:diagnostics_channel)
 *   log, stores              the dirty log; the SQL and memory stores
 *   flush                    the pipeline and its seam (`dirty-tier.ts`)
 *   dead-letters, tier       the dead-letter queue; the embedded tier (a DirtyTier)
 *   core                     the engine that wires them, and the cache facade
 *   testing, cli             the conformance suite and fake clock; the command line
 *   metrics                  the instruments table and channel feed the adapters share
 *   prometheus, otel         the metrics adapters (next to testing: they see a cache only
 *                            through its structural subset, never the core's classes)
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, it } from 'node:test'

const SRC = resolve(import.meta.dirname, '../../src')

/** A folder's layer (a file directly in src/ is named by its file name). */
const LAYERS: Record<string, number> = {
  contracts: 0,
  'errors.ts': 0.1,
  errors: 0,
  'to-error.ts': 0,
  validate: 0.5,
  diagnostics: 0.7,
  log: 1,
  stores: 1,
  metrics: 1,
  flush: 2,
  'dead-letters': 3,
  tier: 3,
  core: 4,
  testing: 5,
  prometheus: 5,
  otel: 5,
  cli: 6,
  'index.ts': 7,
  'redis.ts': 7,
}

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) sources(path, out)
    else if (name.endsWith('.ts')) out.push(path)
  }
  return out
}

/** Relative imports of a file (static, dynamic and type-only), as absolute .ts paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const found: string[] = []
  for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)\.js'/g)) {
    found.push(resolve(dirname(file), `${match[1] as string}.ts`))
  }
  return found
}

function top(file: string): string {
  return relative(SRC, file).split('/')[0] as string
}

const files = sources(SRC)
const graph = new Map(files.map((f) => [f, importsOf(f)]))

describe('source layout', () => {
  it('puts every top-level folder and file of src/ in a layer', () => {
    const unknown = [...new Set(files.map(top))].filter((name) => !(name in LAYERS))
    assert.deepEqual(unknown, [], `add these to LAYERS in ${relative(process.cwd(), import.meta.filename)}`)
  })

  it('imports only from lower layers, or from its own folder', () => {
    const upward: string[] = []
    for (const [file, imports] of graph) {
      for (const target of imports) {
        const from = top(file)
        const to = top(target)
        if (from === to) continue
        if ((LAYERS[to] ?? Infinity) >= (LAYERS[from] ?? -Infinity)) upward.push(`${relative(SRC, file)} -> ${relative(SRC, target)}`)
      }
    }
    assert.deepEqual(upward, [])
  })

  it('has no import circles', () => {
    const circles: string[] = []
    const state = new Map<string, 'open' | 'done'>()
    const path: string[] = []
    const visit = (file: string): void => {
      state.set(file, 'open')
      path.push(file)
      for (const next of graph.get(file) ?? []) {
        if (state.get(next) === 'open') circles.push([...path.slice(path.indexOf(next)), next].map((f) => relative(SRC, f)).join(' -> '))
        else if (!state.has(next)) visit(next)
      }
      path.pop()
      state.set(file, 'done')
    }
    for (const file of files) if (!state.has(file)) visit(file)
    assert.deepEqual(circles, [])
  })
})
