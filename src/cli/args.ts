/**
 * The CLI's one argument parser, for every command: `node:util` `parseArgs` in strict mode, over a
 * declared spec that adds what it lacks (numbers checked to be finite and in range, choices,
 * defaults, help lines). Bad input throws a `UsageError` whose message names the option (and, for
 * an unknown one, the closest known name); commands print it with their usage and exit 64.
 */
import { parseArgs as parseNodeArgs } from 'node:util'
import { editDistance } from '../validate/suggest.js'

/** Thrown for bad command-line input; commands print it with their usage and exit `EXIT.USAGE`. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** One declared option. Numbers are checked to be finite and at least `min` (and whole when `integer`). */
export type OptionSpec =
  | { readonly type: 'flag'; readonly help: string }
  | { readonly type: 'string'; readonly help: string; readonly default?: string; readonly choices?: readonly string[]; readonly placeholder?: string }
  | { readonly type: 'strings'; readonly help: string; readonly placeholder?: string }
  | { readonly type: 'number'; readonly help: string; readonly default?: number; readonly min?: number; readonly integer?: boolean }

export type OptionSpecs = Readonly<Record<string, OptionSpec>>

type Value = string | number | boolean | readonly string[] | undefined

/** What `parseArgs` returns: option values by name (defaults applied) and the positionals in order. */
export interface ParsedArgs {
  readonly options: Readonly<Record<string, Value>>
  readonly positionals: readonly string[]
}

/** Parses `args` against `specs`. Unknown options, missing values and bad numbers throw `UsageError`. */
export function parseArgs(args: readonly string[], specs: OptionSpecs): ParsedArgs {
  const config: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {}
  for (const [name, spec] of Object.entries(specs)) {
    config[name] = { type: spec.type === 'flag' ? 'boolean' : 'string', ...(spec.type === 'strings' ? { multiple: true } : {}), ...(name === 'help' ? { short: 'h' } : {}) }
  }
  let raw: { values: Record<string, string | boolean | Array<string | boolean> | undefined>; positionals: string[] }
  try {
    raw = parseNodeArgs({ args: [...args], options: config, allowPositionals: true, strict: true })
  } catch (error) {
    throw new UsageError(describeParseError(error, specs))
  }
  const options: Record<string, Value> = {}
  for (const [name, spec] of Object.entries(specs)) {
    const value = raw.values[name]
    if (value === undefined) {
      options[name] = spec.type === 'flag' ? false : spec.type === 'strings' ? undefined : spec.default
      continue
    }
    if (spec.type === 'flag') options[name] = value === true
    else if (spec.type === 'strings') options[name] = (value as string[]).map((item) => convertString(name, { type: 'string', help: '' }, item))
    else if (spec.type === 'string') options[name] = convertString(name, spec, value as string)
    else options[name] = convertNumber(name, spec, value as string)
  }
  return { options, positionals: raw.positionals }
}

/** node:util's parse errors, reworded to name the option and suggest the closest known one. */
function describeParseError(error: unknown, specs: OptionSpecs): string {
  const code = (error as { code?: unknown }).code
  const message = error instanceof Error ? error.message : String(error)
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const flag = /Unknown option '([^']+)'/.exec(message)?.[1] ?? message
    const name = flag.replace(/^-+/, '').split('=')[0] ?? ''
    const close = closest(name, Object.keys(specs))
    const hint = close === undefined ? '' : ` (did you mean --${close}?)`
    return `unknown option ${flag}${hint}`
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const flag = /Option '(?:-\w, )?(--[^' ]+)/.exec(message)?.[1]
    if (flag !== undefined && /argument missing|ambiguous/.test(message)) return `${flag} needs a value`
    if (flag !== undefined && /does not take an argument/.test(message)) return `${flag} takes no value`
  }
  return message
}

/** The known name nearest to `name` (edit distance at most 2, or a shared prefix of 3+), if any. */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined
  for (const candidate of known) {
    const distance = candidate.startsWith(name) && name.length >= 3 ? 1 : editDistance(name, candidate)
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { name: candidate, distance }
  }
  return best?.name
}

function convertString(name: string, spec: Extract<OptionSpec, { type: 'string' }>, raw: string): string {
  if (raw === '') throw new UsageError(`--${name} needs a non-empty value`)
  if (spec.choices !== undefined && !spec.choices.includes(raw)) {
    const close = closest(raw, spec.choices)
    throw new UsageError(`--${name} must be one of ${spec.choices.join(', ')} (got "${raw}")${close === undefined ? '' : `: did you mean ${close}?`}`)
  }
  return raw
}

function convertNumber(name: string, spec: Extract<OptionSpec, { type: 'number' }>, raw: string): number {
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
    const placeholder = spec.type === 'number' ? 'n' : spec.type === 'flag' ? '' : (spec.placeholder ?? 'value')
    const left = spec.type === 'flag' ? `--${name}` : `--${name} <${placeholder}>${spec.type === 'strings' ? ' ...' : ''}`
    const fallback = (spec.type === 'string' || spec.type === 'number') && spec.default !== undefined ? ` (default: ${spec.default})` : ''
    return [left, `${spec.help}${fallback}`] as const
  })
  const width = Math.max(0, ...rows.map(([left]) => left.length))
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`).join('\n')
}

/** Reads a parsed string option. */
export function stringOption(parsed: ParsedArgs, name: string): string | undefined {
  const value = parsed.options[name]
  return typeof value === 'string' ? value : undefined
}

/** Reads a parsed repeatable string option. */
export function stringsOption(parsed: ParsedArgs, name: string): readonly string[] | undefined {
  const value = parsed.options[name]
  return Array.isArray(value) ? (value as readonly string[]) : undefined
}

/** Reads a parsed number option. */
export function numberOption(parsed: ParsedArgs, name: string): number | undefined {
  const value = parsed.options[name]
  return typeof value === 'number' ? value : undefined
}

/** Refuses options that `command` does not take (declared for a sibling); for specs without defaults. */
export function onlyOptions(parsed: ParsedArgs, command: string, allowed: readonly string[]): void {
  const given = Object.keys(parsed.options).filter((name) => parsed.options[name] !== undefined && parsed.options[name] !== false)
  const extra = given.filter((name) => !allowed.includes(name))
  if (extra.length > 0) throw new UsageError(`${command} does not take ${extra.map((name) => `--${name}`).join(', ')} (it takes ${allowed.map((name) => `--${name}`).join(', ')})`)
}
