/**
 * The alerting rules and the Grafana dashboard under examples/monitoring, checked two ways:
 * - everywhere, parsed and validated here (test/helpers/monitoring-check.ts): the rule file's
 *   shape, the five alerts the README promises, and every expression's metrics and labels
 *   against the instruments table;
 * - where Debian's `prometheus` package installed `promtool`: `promtool check rules` on the rules
 *   and on the dashboard's expressions (as recording rules), and `promtool test rules` on
 *   alerts.test.yml, which shows each alert firing on the series it watches.
 * Each path is also shown to reject a broken copy.
 */
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse, stringify } from 'yaml'
import { checkExpression, checkRuleFile, dashboardExpressions } from '../helpers/monitoring-check.js'

const EXAMPLES = fileURLToPath(new URL('../../examples/monitoring/', import.meta.url))
const rulesText = readFileSync(join(EXAMPLES, 'alerts.yml'), 'utf8')
const rules = parse(rulesText) as { groups: Array<{ name: string; rules: Array<{ alert: string; expr: string }> }> }
const dashboard = JSON.parse(readFileSync(join(EXAMPLES, 'grafana-dashboard.json'), 'utf8')) as {
  uid?: string
  panels: Array<{ id: number; title: string; targets: Array<{ expr: string }> }>
  templating: { list: Array<{ name: string; query?: unknown }> }
}
const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0 ? 'promtool' : undefined
const scratch = mkdtempSync(join(tmpdir(), 'wb-monitoring-'))
after(() => rmSync(scratch, { recursive: true, force: true }))

function runPromtool(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { cwd: scratch, encoding: 'utf8', timeout: 60_000 })
  return { status: result.status, output: result.stdout + result.stderr }
}

/** A copy of the examples in the scratch dir, with `edit` applied to the rules. */
function brokenCopy(edit: (text: string) => string): string {
  writeFileSync(join(scratch, 'alerts.yml'), edit(rulesText))
  copyFileSync(join(EXAMPLES, 'alerts.test.yml'), join(scratch, 'alerts.test.yml'))
  return scratch
}

describe('the alerting rules, parsed and validated', () => {
  it('have the shape Prometheus takes and the five alerts the README lists', () => {
    assert.deepEqual(checkRuleFile(rules), [])
    assert.deepEqual(rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort(), [
      'WriteBehindBacklogNearCap',
      'WriteBehindCircuitOpen',
      'WriteBehindDeadLettersGrowing',
      'WriteBehindFlushFailing',
      'WriteBehindStalenessSLOBreached',
    ])
  })

  it('reject a misspelled metric, an unknown label value, an unbalanced bracket and a missing severity', () => {
    const broken = (edit: (text: string) => string) => checkRuleFile(parse(edit(rulesText)))
    assert.match(broken((t) => t.replace('writebehind_circuit_open)', 'writebehind_circuit_opened)')).join('\n'), /unknown metric writebehind_circuit_opened/)
    assert.match(broken((t) => t.replace('outcome="dead_lettered"', 'outcome="deadlettered"')).join('\n'), /outcome is never "deadlettered"/)
    assert.match(broken((t) => t.replace('max by (cache) (writebehind_circuit_open)', 'max by (cache) (writebehind_circuit_open')).join('\n'), /unbalanced \(\)/)
    assert.match(broken((t) => t.replace('severity: ticket', 'severity: someday')).join('\n'), /WriteBehindDeadLettersGrowing: severity/)
    assert.match(checkExpression('sum by (key) (writebehind_writes_total)').join('\n'), /grouping by unknown label key/)
  })
})

describe('the Grafana dashboard, parsed and validated', () => {
  it('has unique panels, each with targets whose expressions read published metrics and labels', () => {
    const ids = dashboard.panels.map((p) => p.id)
    assert.equal(new Set(ids).size, ids.length)
    assert.equal(dashboard.uid, 'writebehind')
    for (const panel of dashboard.panels) assert.ok(panel.targets.length > 0, panel.title)
    const expressions = dashboardExpressions(dashboard)
    assert.ok(expressions.length >= dashboard.panels.length)
    assert.deepEqual(
      expressions.flatMap(({ panel, expr }) => checkExpression(expr).map((p) => `${panel}: ${p}`)),
      [],
    )
    const cacheVariable = dashboard.templating.list.find((v) => v.name === 'cache')
    assert.deepEqual(checkExpression(JSON.stringify(cacheVariable?.query ?? '')), [])
    const used = new Set(expressions.flatMap(({ expr }) => [...expr.matchAll(/writebehind_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''))))
    for (const family of [
      'writebehind_writes_total',
      'writebehind_ack_duration_seconds',
      'writebehind_flush_ops_total',
      'writebehind_backlog_oldest_age_seconds',
      'writebehind_circuit_open',
      'writebehind_dead_letters',
    ]) {
      assert.ok(used.has(family), `the dashboard shows ${family}`)
    }
  })
})

describe('promtool', { skip: promtool === undefined ? 'promtool is not installed (apt-get install prometheus): the parse-and-validate checks above still ran' : false }, () => {
  it('check rules passes the rules, and test rules shows every alert firing on its series, after its for', () => {
    const checked = runPromtool('check', 'rules', join(EXAMPLES, 'alerts.yml'))
    assert.equal(checked.status, 0, checked.output)
    assert.match(checked.output, /SUCCESS: 5 rules found/)
    const tested = spawnSync('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: EXAMPLES, encoding: 'utf8', timeout: 60_000 })
    assert.equal(tested.status, 0, tested.stdout + tested.stderr)
  })

  it('check rules parses every dashboard expression (as a recording rule)', () => {
    const recording = { groups: [{ name: 'dashboard', rules: dashboardExpressions(dashboard).map(({ expr }, i) => ({ record: `writebehind:dashboard_${i}`, expr })) }] }
    writeFileSync(join(scratch, 'dashboard-rules.yml'), stringify(recording))
    const checked = runPromtool('check', 'rules', 'dashboard-rules.yml')
    assert.equal(checked.status, 0, checked.output)
  })

  it('rejects a syntax error, and a threshold that keeps an alert from firing', () => {
    brokenCopy((t) => t.replace('max by (cache) (writebehind_circuit_open) == 1', 'max by (cache) (writebehind_circuit_open == 1'))
    assert.notEqual(runPromtool('check', 'rules', 'alerts.yml').status, 0)
    brokenCopy((t) => t.replace('(writebehind_backlog_oldest_age_seconds) > 60', '(writebehind_backlog_oldest_age_seconds) > 600'))
    assert.equal(runPromtool('check', 'rules', 'alerts.yml').status, 0)
    const tested = runPromtool('test', 'rules', 'alerts.test.yml')
    assert.notEqual(tested.status, 0)
    assert.match(tested.output, /WriteBehindStalenessSLOBreached/)
  })
})
