/**
 * The one instruments table both metrics adapters publish: its names follow the Prometheus
 * conventions (snake_case, `_total` on counters only, base units as suffixes), every label has a
 * closed set of values, the README's metric table is equal to it, and each adapter option is
 * documented with its `@default`.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { INSTRUMENT_LIST, LABEL_VALUES, labelCombinations } from '../../src/metrics/instruments.js'

const read = (path: string): string => readFileSync(fileURLToPath(new URL(`../../${path}`, import.meta.url)), 'utf8')
const README = read('README.md')

/** The README's metric table: one row per metric, cells as written. */
function readmeMetrics(): Array<{ name: string; kind: string; labels: string[]; otelName: string; otelUnit: string; help: string }> {
  const start = README.indexOf('| metric | type | labels (besides `cache`) |')
  assert.notEqual(start, -1, 'the README has the metric table')
  const rows = README.slice(start).split('\n').slice(2)
  const table = rows.slice(
    0,
    rows.findIndex((line) => !line.startsWith('|')),
  )
  return table.map((line) => {
    const cells = line
      .split(/(?<!\\)\|/)
      .slice(1, -1)
      .map((cell) => cell.trim().replace(/\\\|/g, '|'))
    const otel = /^`([^`]+)`(?: \(`([^`]+)`\))?$/.exec(cells[3] ?? '')
    return {
      name: (cells[0] ?? '').replace(/`/g, ''),
      kind: cells[1] ?? '',
      labels: cells[2] === '—' ? [] : (cells[2] ?? '').split(', ').map((l) => l.replace(/`/g, '')),
      otelName: otel?.[1] ?? '',
      otelUnit: otel?.[2] ?? '',
      help: cells[4] ?? '',
    }
  })
}

describe('the instruments table', () => {
  it('follows the Prometheus naming conventions', () => {
    for (const { name, kind, otelUnit, buckets } of INSTRUMENT_LIST) {
      assert.match(name, /^[a-z][a-z0-9_]*[a-z0-9]$/, name)
      assert.equal(name.endsWith('_total'), kind === 'counter', `${name}: _total on counters, and only there`)
      assert.equal(name.endsWith('_seconds'), otelUnit === 's', `${name}: durations in seconds, named so`)
      assert.equal(name.endsWith('_bytes'), otelUnit === 'By', `${name}: sizes in bytes, named so`)
      assert.ok(!/_(ms|milliseconds|kb|mb|percent)(_|$)/.test(name), `${name}: base units only`)
      assert.ok(['s', 'By', ''].includes(otelUnit) || /^\{[a-z]+\}$/.test(otelUnit), `${name}: unit ${otelUnit}`)
      if (kind === 'histogram') {
        assert.ok(buckets !== undefined && buckets.length > 0, `${name} has buckets`)
        assert.deepEqual(
          [...buckets],
          [...buckets].sort((a, b) => a - b),
          `${name}: ascending buckets`,
        )
      } else assert.equal(buckets, undefined, name)
    }
    assert.equal(new Set(INSTRUMENT_LIST.map((i) => i.name)).size, INSTRUMENT_LIST.length)
    assert.equal(new Set(INSTRUMENT_LIST.map((i) => i.otelName)).size, INSTRUMENT_LIST.length)
  })

  it('gives every label a closed set of values, so a cache adds a bounded number of series', () => {
    const series = INSTRUMENT_LIST.reduce((total, i) => total + labelCombinations(i.labels).length, 0)
    assert.ok(series <= 60, `${series} label combinations per cache`)
    for (const values of Object.values(LABEL_VALUES)) assert.ok(values.length > 0 && values.every((v) => /^[a-z_]+$/.test(v)))
  })

  it("is equal to the README's metric table", () => {
    assert.deepEqual(
      readmeMetrics(),
      INSTRUMENT_LIST.map((i) => ({ name: `writebehind_${i.name}`, kind: i.kind, labels: [...i.labels], otelName: i.otelName, otelUnit: i.otelUnit, help: i.help })),
    )
  })

  it('documents every adapter option with its @default', () => {
    for (const [file, name] of [
      ['src/prometheus/register.ts', 'PrometheusOptions'],
      ['src/otel/register.ts', 'OpenTelemetryOptions'],
    ] as const) {
      const text = read(file)
      const body = text.slice(text.indexOf(`export interface ${name} {`), text.indexOf('\n}\n', text.indexOf(`export interface ${name} {`)))
      const options = [...body.matchAll(/\n {2}(\w+)\?:/g)].map((m) => m[1] as string)
      assert.ok(options.length >= 2, `${name} has options`)
      for (const option of options) {
        const doc = body.slice(0, body.indexOf(`\n  ${option}?:`))
        assert.match(doc.slice(doc.lastIndexOf('/**')), /@default /, `${name}.${option} has an @default`)
        assert.ok(README.includes(`| \`${option}\` |`), `the README documents ${name}.${option}`)
      }
    }
  })
})
