/**
 * The metrics adapters' checks at the door, in the one message style of `validate/`: the cache,
 * a metric-name prefix, and static labels (names Prometheus accepts, none of the adapters' own).
 */
import { checkString, invalid } from '../validate/check.js'
import type { MeteredCache } from './readings.js'

/** Label names the adapters set themselves (`le` is a histogram's bucket label). */
const RESERVED_LABELS = Object.freeze(['cache', 'op', 'durability', 'result', 'outcome', 'le'])
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const METRIC_PREFIX = /^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/

/** Throws unless `cache` looks like a cache: a string `name` and a `stats()`. */
export function checkMeteredCache(cache: MeteredCache): void {
  if (typeof cache?.stats !== 'function' || typeof cache.name !== 'string') throw invalid('cache', 'a WriteBehindCache (with a name and stats())', cache)
}

/** The prefix, or `fallback`; throws unless it can start a Prometheus metric name. */
export function checkPrefix(prefix: unknown, fallback: string): string {
  const value = checkString(prefix, 'prefix') ?? fallback
  if (!METRIC_PREFIX.test(value)) throw invalid('prefix', 'letters, digits, _ and : (not starting with a digit)', value)
  return value
}

/** The static labels (option `option`), copied; throws on a bad or reserved name, or a value that is not a string. */
export function checkLabels(labels: unknown, option = 'labels'): Readonly<Record<string, string>> {
  if (labels === undefined) return {}
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) throw invalid(option, 'an object of label names to string values', labels)
  const copy: Record<string, string> = {}
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw invalid(`${option}.${name}`, 'a label name (letters, digits and _, not starting with a digit or __)', name)
    if (RESERVED_LABELS.includes(name)) throw invalid(`${option}.${name}`, `a name other than ${RESERVED_LABELS.join(', ')} (the adapter sets those)`, name)
    copy[name] = checkString(value, `${option}.${name}`, { required: true })
  }
  return Object.freeze(copy)
}
