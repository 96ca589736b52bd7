/**
 * Reads the Prometheus text exposition format (what `/metrics` serves) into samples, and sums
 * samples by name and label subset, for the metrics adapter tests.
 */

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Exposition {
  readonly samples: readonly Sample[]
  /** `# TYPE` lines: metric family name to its type. */
  readonly types: ReadonlyMap<string, string>
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type !== null) types.set(type[1] as string, type[2] as string)
    if (line.startsWith('#')) continue
    const match = SAMPLE.exec(line)
    if (match === null) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const label of (match[2] ?? '').matchAll(LABEL)) labels[label[1] as string] = (label[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
    samples.push({ name: match[1] as string, labels, value: parseValue(match[3] as string) })
  }
  return { samples, types }
}

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity
  if (text === '-Inf') return -Infinity
  return Number(text)
}

/** The samples named `name` whose labels include `where`. */
export function select(exposition: Exposition, name: string, where: Readonly<Record<string, string>> = {}): Sample[] {
  return exposition.samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
}

/** The sum of the samples named `name` whose labels include `where` (0 when there are none). */
export function sum(exposition: Exposition, name: string, where: Readonly<Record<string, string>> = {}): number {
  return select(exposition, name, where).reduce((total, s) => total + s.value, 0)
}
