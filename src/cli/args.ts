/**
 * The CLI's small argument parser: `--name value` options, `--flag` switches and positionals,
 * checked against a declared spec. A bad or missing value throws a `UsageError` whose message
 * names the option; commands turn it into their usage text and exit code 2.
 */

/** Thrown for bad command-line input; commands print it with their usage and exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** One declared option. Numbers are checked to be finite and at least `min` (and whole when `integer`). */
export type OptionSpec =
  | { readonly type: 'flag'; readonly help: string }
  | { readonly type: 'string'; readonly help: string; readonly default?: string; readonly choices?: readonly string[] }
  | { readonly type: 'number'; readonly help: string; readonly default?: number; readonly min?: number; readonly integer?: boolean }

export type OptionSpecs = Readonly<Record<string, OptionSpec>>

/** What `parseArgs` returns: option values by name (defaults applied) and the positionals in order. */
export interface ParsedArgs {
  readonly options: Readonly<Record<string, string | number | boolean | undefined>>
  readonly positionals: readonly string[]
}

/** Parses `args` against `specs`. Unknown options, missing values and bad numbers throw `UsageError`. */
export function parseArgs(args: readonly string[], specs: OptionSpecs): ParsedArgs {
  const options: Record<string, string | number | boolean | undefined> = defaults(specs)
  const positionals: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    if (arg === '--') {
      positionals.push(...args.slice(i + 1))
      break
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg)
      continue
    }
    const [name, inline] = splitInline(arg.slice(2))
    const spec = specs[name]
    if (spec === undefined) throw new UsageError(`unknown option --${name}`)
    if (spec.type === 'flag') {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`)
      options[name] = true
      continue
    }
    const raw = inline ?? args[++i]
    if (raw === undefined || (inline === undefined && raw.startsWith('--'))) throw new UsageError(`--${name} needs a value`)
    options[name] = convert(name, spec, raw)
  }
  return { options, positionals }
}

/** `name=value` → [name, value]; `name` → [name, undefined]. */
function splitInline(text: string): [string, string | undefined] {
  const eq = text.indexOf('=')
  return eq < 0 ? [text, undefined] : [text.slice(0, eq), text.slice(eq + 1)]
}

function defaults(specs: OptionSpecs): Record<string, string | number | boolean | undefined> {
  const values: Record<string, string | number | boolean | undefined> = {}
  for (const [name, spec] of Object.entries(specs)) values[name] = spec.type === 'flag' ? false : spec.default
  return values
}

function convert(name: string, spec: Exclude<OptionSpec, { type: 'flag' }>, raw: string): string | number {
  if (spec.type === 'string') {
    if (raw === '') throw new UsageError(`--${name} needs a non-empty value`)
    if (spec.choices !== undefined && !spec.choices.includes(raw)) {
      throw new UsageError(`--${name} must be one of ${spec.choices.join(', ')} (got "${raw}")`)
    }
    return raw
  }
  const value = raw.trim() === '' ? NaN : Number(raw)
  const what = spec.integer === true ? 'a whole number' : 'a number'
  const floor = spec.min === undefined ? '' : ` >= ${spec.min}`
  if (!Number.isFinite(value) || (spec.integer === true && !Number.isInteger(value)) || (spec.min !== undefined && value < spec.min)) {
    throw new UsageError(`--${name} must be ${what}${floor} (got "${raw}")`)
  }
  return value
}

/** The option lines of a usage text: `--name <value>  help (default: x)`, aligned. */
export function describeOptions(specs: OptionSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const left = spec.type === 'flag' ? `--${name}` : `--${name} <${spec.type === 'number' ? 'n' : 'value'}>`
    const fallback = spec.type !== 'flag' && spec.default !== undefined ? ` (default: ${spec.default})` : ''
    return [left, `${spec.help}${fallback}`] as const
  })
  const width = Math.max(0, ...rows.map(([left]) => left.length))
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`).join('\n')
}

/** Reads a parsed option that `specs` guarantees is a string (it has a default or was checked). */
export function stringOption(parsed: ParsedArgs, name: string): string | undefined {
  const value = parsed.options[name]
  return typeof value === 'string' ? value : undefined
}

/** Reads a parsed number option. */
export function numberOption(parsed: ParsedArgs, name: string): number | undefined {
  const value = parsed.options[name]
  return typeof value === 'number' ? value : undefined
}
