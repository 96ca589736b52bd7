/**
 * Checks of the monitoring examples that need no Prometheus: the rule file's shape (groups, rules,
 * `for` durations, severity, summary and description), and every PromQL expression's metric
 * names, label matchers and `by`/`without` labels against the instruments table, with balanced
 * brackets and quotes. `promtool` (when installed) checks the PromQL grammar itself; this checks
 * that an expression reads metrics and labels the adapters publish.
 */
import { INSTRUMENT_LIST, LABEL_VALUES, type LabelName } from '../../src/metrics/instruments.js'

const HISTOGRAM_SERIES = ['_bucket', '_sum', '_count']

/** Every series name the adapters publish (default prefix), with the labels it carries. */
export function publishedSeries(prefix = 'writebehind_'): Map<string, Set<string>> {
  const series = new Map<string, Set<string>>()
  for (const instrument of INSTRUMENT_LIST) {
    const labels = new Set<string>(['cache', ...instrument.labels])
    const name = prefix + instrument.name
    if (instrument.kind === 'histogram') for (const suffix of HISTOGRAM_SERIES) series.set(name + suffix, suffix === '_bucket' ? new Set([...labels, 'le']) : labels)
    else series.set(name, labels)
  }
  return series
}

/** What is wrong with one PromQL expression (empty when nothing is). `extraLabels` are labels your setup adds (job, instance). */
export function checkExpression(expr: string, extraLabels: readonly string[] = []): string[] {
  const problems: string[] = []
  const series = publishedSeries()
  const known = new Set<string>(['cache', 'le', ...Object.keys(LABEL_VALUES), ...extraLabels])
  const stripped = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')
  for (const [open, close] of [
    ['(', ')'],
    ['{', '}'],
    ['[', ']'],
  ] as const) {
    if (stripped.split(open).length !== stripped.split(close).length) problems.push(`unbalanced ${open}${close} in: ${expr}`)
  }
  if ((expr.match(/(?<!\\)"/g) ?? []).length % 2 !== 0) problems.push(`unbalanced quotes in: ${expr}`)
  for (const match of expr.matchAll(/\b(writebehind_[a-zA-Z0-9_]+)\b(\{[^}]*\})?/g)) {
    const name = match[1] as string
    const labels = series.get(name)
    if (labels === undefined) {
      problems.push(`unknown metric ${name}`)
      continue
    }
    for (const matcher of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)) {
      const [, label, op, value] = matcher as unknown as [string, string, string, string]
      if (!labels.has(label) && !extraLabels.includes(label)) {
        problems.push(`${name} has no label ${label}`)
        continue
      }
      const allowed = LABEL_VALUES[label as LabelName] as readonly string[] | undefined
      if (allowed === undefined || value.includes('$')) continue
      const values = op === '=~' || op === '!~' ? value.split('|') : [value]
      for (const v of values) if (!allowed.includes(v)) problems.push(`${name}: ${label} is never "${v}" (one of ${allowed.join(', ')})`)
    }
  }
  for (const clause of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    for (const label of (clause[1] as string).split(',').map((l) => l.trim())) {
      if (label !== '' && !known.has(label)) problems.push(`grouping by unknown label ${label}`)
    }
  }
  return problems
}

const DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/
const SEVERITIES = ['page', 'ticket']

/** What is wrong with a parsed alerting-rules file (empty when nothing is). */
export function checkRuleFile(file: unknown): string[] {
  const problems: string[] = []
  const groups = (file as { groups?: unknown } | null)?.groups
  if (!Array.isArray(groups) || groups.length === 0) return ['no groups']
  const names = new Set<string>()
  for (const group of groups as Array<{ name?: unknown; rules?: unknown }>) {
    if (typeof group.name !== 'string') problems.push('a group without a name')
    if (!Array.isArray(group.rules) || group.rules.length === 0) {
      problems.push(`group ${String(group.name)} has no rules`)
      continue
    }
    for (const rule of group.rules as Array<Record<string, unknown>>) {
      const name = rule.alert
      if (typeof name !== 'string' || !/^[A-Z][A-Za-z0-9]*$/.test(name)) {
        problems.push(`a rule without a CamelCase alert name: ${JSON.stringify(name)}`)
        continue
      }
      if (names.has(name)) problems.push(`${name} twice`)
      names.add(name)
      const unknownKeys = Object.keys(rule).filter((key) => !['alert', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations'].includes(key))
      if (unknownKeys.length > 0) problems.push(`${name}: unknown keys ${unknownKeys.join(', ')}`)
      if (typeof rule.expr !== 'string' || rule.expr.trim() === '') problems.push(`${name}: no expr`)
      else problems.push(...checkExpression(rule.expr).map((p) => `${name}: ${p}`))
      if (rule.for !== undefined && (typeof rule.for !== 'string' || !DURATION.test(rule.for))) problems.push(`${name}: for is not a duration: ${JSON.stringify(rule.for)}`)
      const labels = rule.labels as Record<string, unknown> | undefined
      if (!SEVERITIES.includes(labels?.severity as string)) problems.push(`${name}: severity must be one of ${SEVERITIES.join(', ')}`)
      const annotations = rule.annotations as Record<string, unknown> | undefined
      for (const key of ['summary', 'description']) {
        const text = annotations?.[key]
        if (typeof text !== 'string' || text === '') problems.push(`${name}: no ${key}`)
        else problems.push(...checkExpression(text.replace(/\{\{[^}]*\}\}/g, '')).map((p) => `${name} ${key}: ${p}`))
      }
    }
  }
  return problems
}

/** A Grafana dashboard's PromQL expressions, with the template variables replaced so a PromQL parser takes them. */
export function dashboardExpressions(dashboard: { panels?: Array<{ title?: string; targets?: Array<{ expr?: string }> }> }): Array<{ panel: string; expr: string }> {
  return (dashboard.panels ?? []).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({
      panel: panel.title ?? '',
      expr: (target.expr ?? '').replaceAll('$__rate_interval', '5m').replaceAll('$cache', '.*'),
    })),
  )
}
