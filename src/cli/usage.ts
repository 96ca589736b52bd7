/**
 * The CLI's usage texts and the option specs of the commands this file describes (demo,
 * recover). Kept apart from the commands so `writebehind help` loads none of their dependencies.
 */
import { describeOptions, type OptionSpecs } from './args.js'

/** `writebehind demo` options, all with defaults. */
export const DEMO_OPTIONS = {
  duration: { type: 'number', help: 'seconds of writing', default: 15, min: 0 },
  players: { type: 'number', help: 'distinct players (keys)', default: 100_000, min: 1, integer: true },
  writers: { type: 'number', help: 'concurrent async writers', default: 32, min: 1, integer: true },
  zipf: { type: 'number', help: 'Zipf exponent of player popularity (0 = uniform)', default: 1.1, min: 0 },
  seed: { type: 'number', help: 'seed of the player sampler', default: 42, integer: true },
  db: { type: 'string', help: 'SQLite file, recreated each run', default: './writebehind-demo.db' },
  dir: { type: 'string', help: 'dirty-log directory, cleaned each run (unused with --durability memory)', default: './.writebehind-demo' },
  durability: { type: 'string', help: 'ack level: memory, log, disk or store', default: 'log', choices: ['memory', 'log', 'disk', 'store'] },
  interval: { type: 'number', help: 'flush interval in ms', default: 500, min: 1, integer: true },
  batch: { type: 'number', help: 'ops per store batch', default: 500, min: 1, integer: true },
  json: { type: 'flag', help: 'print only the final report, as JSON' },
  help: { type: 'flag', help: 'show this help' },
} as const satisfies OptionSpecs

/** `writebehind recover` options. */
export const RECOVER_OPTIONS = {
  store: { type: 'string', help: 'SQLite file to flush into (required)' },
  table: { type: 'string', help: 'table in that file', default: 'writebehind_entries' },
  timeout: { type: 'number', help: 'give up draining after this many ms', default: 60_000, min: 0, integer: true },
  help: { type: 'flag', help: 'show this help' },
} as const satisfies OptionSpecs

export const DEMO_USAGE = `Usage: writebehind demo [options]

A leaderboard workload on the embedded SQLite store: concurrent writers update Zipf-distributed
players for --duration seconds, then the cache is closed and the database is checked against
the last value written for every player.

Options:
${describeOptions(DEMO_OPTIONS)}
`

export const RECOVER_USAGE = `Usage: writebehind recover <dir> --store <sqlite path> [options]

Flushes what a dead process left in the dirty log of <dir> into a SQLite store, offline.

Options:
${describeOptions(RECOVER_OPTIONS)}
`

export const MAIN_USAGE = `Usage: writebehind <command> [options]

Commands:
  demo [options]                  run the leaderboard demo on SQLite (no server needed)
  inspect <dir> [--json] [--limit n]
                                  show what a cache directory holds (log segments, checkpoint,
                                  dirty keys, dead letters)
  verify <dir> [--json]           check every record of a dirty log (checksums, framing, order)
  recover <dir> --store <file>    flush a dead process's dirty log into a SQLite store
  dlq list|drop|replay <dir>      list, drop or replay dead letters
  help                            show this help
  --version                       print the version

Run \`writebehind <command> --help\` for a command's own options.

demo options:
${describeOptions(DEMO_OPTIONS)}

recover options:
${describeOptions(RECOVER_OPTIONS)}

dlq:
  writebehind dlq list <dir> [--json] [--prefix P]
  writebehind dlq drop <dir> (--key K ... | --prefix P | --all) [--yes]
  writebehind dlq replay <dir> --store <sqlite path> [--key K ... | --prefix P]
`
