/** The fault harness's printed report: the faults injected, then one row per level (checker.ts). */
import type { TortureResult } from './harness.js'

export function formatReport(result: TortureResult): string {
  const { options, faults, report } = result
  const counts = new Map<string, number>()
  for (const f of faults) counts.set(f.fault, (counts.get(f.fault) ?? 0) + 1)
  const lines = [
    `tier ${options.tier}, seed ${options.seed}, ${options.writers} writers, ${options.durationMs / 1000} s of faults`,
    `faults injected (${faults.length}): ${[...counts].map(([name, n]) => `${name} ×${n}`).join(', ') || 'none'}`,
    '',
    '| level | acked | lost (keys) | not confirmed (of them lost) | failed | hung | stale overwrites | wrong values | Redis ≠ store | promise | target |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ]
  for (const r of report.levels) {
    const promise = r.promisesNoLoss ? 'no loss' : 'loss counted'
    lines.push(
      `| ${r.level} | ${r.acked} | ${r.lost} (${r.lostKeys}) | ${r.notConfirmed} (${r.notConfirmedLost}) | ${r.failed} | ${r.hung} | ${r.staleOverwrites} | ${r.wrongValues} | ${r.redisMismatches} | ${promise} | ${r.met ? 'met' : 'MISSED'} |`,
    )
  }
  if (result.failovers.length > 0) {
    lines.push('', 'what each failover cost, measured at the promotion: writes acknowledged before it and lost in it (not confirmed and lost in brackets), of those acknowledged so far:', '')
    lines.push(`| failover at | ${result.failovers[0]?.levels.map((l) => l.level).join(' | ')} |`, `|---|${result.failovers[0]?.levels.map(() => '---|').join('')}`)
    result.failovers.forEach((f, i) => {
      const before = result.failovers[i - 1]
      const cells = f.levels.map((l, j) => {
        const prior = before?.levels[j]
        return `${l.lost - (prior?.lost ?? 0)} (${l.notConfirmedLost - (prior?.notConfirmedLost ?? 0)}) of ${l.acked}`
      })
      lines.push(`| ${(f.atMs / 1000).toFixed(1)} s | ${cells.join(' | ')} |`)
    })
  }
  lines.push('', `dirty after the clean flush: ${report.dirty}; apps drained at their close: ${result.appsDrained ? 'yes' : 'no'}`)
  lines.push(report.met ? 'every target met' : `targets missed:\n${report.misses.map((m) => `  - ${m}`).join('\n')}`)
  return lines.join('\n')
}
