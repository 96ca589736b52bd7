/**
 * `writebehind dashboard` (also `npm run dashboard`): serves the live dashboard and failure
 * simulator on loopback, prints the URL (token included) first, then one line per run as it
 * starts, crashes and is checked. Runs until Ctrl-C (or SIGTERM), then kills any run going and
 * removes the temp dir it made.
 */
import { simulatorSource } from '../dashboard/simulator-source.js'
import { startDashboardServer, type DashboardServer } from '../dashboard/server.js'
import { parseArgs, UsageError } from '../args.js'
import { EXIT } from '../exit-codes.js'
import { count, duration } from '../progress.js'
import type { RunResult } from '../sim/run.js'
import { Simulator, type SimState } from '../sim/simulator.js'
import { DASHBOARD_OPTIONS, DASHBOARD_USAGE } from '../usage.js'

export async function run(args: string[], out: NodeJS.WritableStream): Promise<number> {
  let options: Record<string, unknown>
  try {
    const parsed = parseArgs(args, DASHBOARD_OPTIONS)
    if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument ${parsed.positionals.join(' ')}`)
    options = parsed.options
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    out.write(`error: ${error.message}\n\n${DASHBOARD_USAGE}`)
    return EXIT.USAGE
  }
  if (options.help === true) {
    out.write(DASHBOARD_USAGE)
    return EXIT.OK
  }
  const simulator = new Simulator({ pgUrl: options.pg as string | undefined, workDir: options['work-dir'] as string | undefined })
  let server: DashboardServer
  try {
    server = await startDashboardServer(simulatorSource(simulator), { port: options.port as number | undefined, token: options.token as string | undefined })
  } catch (error) {
    await simulator.close()
    out.write(`error: cannot listen on 127.0.0.1:${(options.port as number | undefined) ?? 0}: ${error instanceof Error ? error.message : String(error)}\n`)
    return EXIT.USAGE
  }
  out.write(`writebehind dashboard: open ${server.url}\n`)
  out.write(`(loopback only; the token in the URL is required. Stores: SQLite${options.pg === undefined ? '' : ', PostgreSQL'}. Ctrl-C to stop.)\n`)
  const unsubscribe = simulator.subscribe(progress(out))
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  unsubscribe()
  out.write('stopping: killing any run going, removing its files\n')
  await server.close()
  await simulator.close()
  return EXIT.OK
}

/** One line per run phase change and per result. */
function progress(out: NodeJS.WritableStream): (event: { type: string; state?: SimState }) => void {
  let last = ''
  let results = 0
  return (event) => {
    const state = event.state
    if (event.type !== 'state' || state === undefined) return
    for (const result of state.results.slice(results)) out.write(describeResult(result))
    results = state.results.length
    const run = state.run
    const line = run === undefined ? '' : `run ${run.id} (${run.settings.durability}, ${run.settings.workload}): ${run.phase}`
    if (line !== '' && line !== last && run?.phase !== 'done') out.write(`${line}\n`)
    last = line
  }
}

function describeResult(r: RunResult): string {
  if (r.error !== undefined) return `run ${r.id} failed: ${r.error}\n`
  const crash = r.crash === 'none' ? 'stopped' : r.crash === 'power' ? 'power cut' : 'kill -9'
  return (
    `run ${r.id} ${r.settings.durability} ${crash}: ${count(r.acked)} writes acked (${count(r.writesPerSec)}/s, p99 ${duration(r.p99Ms)}), ` +
    `${count(r.missingAtCrash)} missing at the crash, ${count(r.recovered)} recovered from the log, ${count(r.lost)} LOST` +
    `${r.lost > 0 ? ` (window ${duration(r.lossWindowMs)})` : ''}\n`
  )
}
