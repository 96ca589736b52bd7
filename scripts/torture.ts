/**
 * `npm run torture -- [--embedded | --redis | --redis-cluster] [--duration 120s] [--seed N]
 * [--writers N] [--levels memory,replicated,store]`: the fault harness (test/torture/), printing the
 * faults injected and a table per level; exit 0 when every target was met, 1 when one was missed,
 * 64 on bad arguments. See the README, "Fault harness".
 */
import { describeOptions, numberOption, parseArgs, stringOption, UsageError } from '../src/cli/args.js'
import { EXIT } from '../src/cli/exit-codes.js'
import type { Durability } from '../src/contracts/options.js'
import type { FaultName } from '../test/torture/checker.js'
import { runTorture } from '../test/torture/harness.js'
import { FAULTS } from '../test/torture/nemesis.js'
import type { TortureTier } from '../test/torture/protocol.js'
import { formatReport } from '../test/torture/report.js'

const SPECS = {
  embedded: { type: 'flag', help: 'the embedded tier: kill -9 and power cut of the log (the default)' },
  redis: { type: 'flag', help: 'the Redis tier on a primary and a replica of its own' },
  'redis-cluster': { type: 'flag', help: 'the Redis tier on a Redis Cluster of its own' },
  duration: { type: 'string', help: 'how long the nemesis runs (120s, 2m, 90000ms)', default: '60s', placeholder: 'time' },
  seed: { type: 'number', help: 'the seed of the fault schedule and the workload', integer: true, min: 0 },
  writers: { type: 'number', help: 'writer processes', default: 3, integer: true, min: 1 },
  keys: { type: 'number', help: 'keys per level, shared by the writers', default: 40, integer: true, min: 1 },
  rate: { type: 'number', help: 'writes per second per writer', default: 100, min: 1 },
  faults: { type: 'string', help: 'the faults to choose from (default: all of the tier: see test/torture/nemesis.ts)', placeholder: 'list' },
  'flush-ms': { type: 'number', help: "the apps' flush.intervalMs (the library's default)", default: 500, integer: true, min: 1 },
  levels: { type: 'string', help: 'durability levels written (default: memory,replicated,store on Redis; memory,log,disk,store embedded)', placeholder: 'list' },
  help: { type: 'flag', help: 'this text' },
} as const

const LEVELS: Record<'embedded' | 'redis', readonly Durability[]> = { embedded: ['memory', 'log', 'disk', 'store'], redis: ['memory', 'replicated', 'store'] }

function durationMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text)
  if (match === null) throw new UsageError(`--duration must be a time such as 120s, 2m or 5000ms (got "${text}")`)
  const unit = match[2] ?? 's'
  return Number(match[1]) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : 60_000)
}

function options(args: readonly string[]): Parameters<typeof runTorture>[0] | undefined {
  const parsed = parseArgs(args, SPECS)
  if (parsed.options.help === true) return undefined
  const chosen = (['embedded', 'redis', 'redis-cluster'] as const).filter((t) => parsed.options[t] === true)
  if (chosen.length > 1) throw new UsageError(`choose one of --embedded, --redis, --redis-cluster (got ${chosen.map((t) => `--${t}`).join(' ')})`)
  const tier: TortureTier = chosen[0] ?? 'embedded'
  const allowed = LEVELS[tier === 'embedded' ? 'embedded' : 'redis']
  const levels = (stringOption(parsed, 'levels')?.split(',') ?? allowed) as Durability[]
  for (const level of levels) if (!allowed.includes(level)) throw new UsageError(`--levels: ${level} is not a level of the ${tier} tier (${allowed.join(', ')})`)
  const menu = FAULTS[tier === 'embedded' ? 'embedded' : 'redis']
  const faults = stringOption(parsed, 'faults')?.split(',') as FaultName[] | undefined
  for (const fault of faults ?? []) if (!menu.includes(fault)) throw new UsageError(`--faults: ${fault} is not a fault of the ${tier} tier (${menu.join(', ')})`)
  return {
    ...(faults === undefined ? {} : { faults }),
    tier,
    durationMs: durationMs(stringOption(parsed, 'duration') as string),
    seed: numberOption(parsed, 'seed') ?? Math.floor(Math.random() * 1_000_000),
    writers: numberOption(parsed, 'writers') as number,
    keys: numberOption(parsed, 'keys') as number,
    rate: numberOption(parsed, 'rate') as number,
    flushMs: numberOption(parsed, 'flush-ms') as number,
    levels,
    log: (line) => process.stderr.write(`${line}\n`),
  }
}

async function main(): Promise<number> {
  let chosen: ReturnType<typeof options>
  try {
    chosen = options(process.argv.slice(2))
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`torture: ${error.message}\n\n${describeOptions(SPECS)}\n`)
    return EXIT.USAGE
  }
  if (chosen === undefined) {
    process.stdout.write(`npm run torture -- [options]\n\n${describeOptions(SPECS)}\n`)
    return 0
  }
  const result = await runTorture(chosen)
  process.stdout.write(`${formatReport(result)}\n`)
  return result.report.met ? 0 : 1
}

process.exitCode = await main()
