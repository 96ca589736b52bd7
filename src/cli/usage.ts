/**
 * The CLI's usage texts and the option specs of every command. Kept apart from the commands so `writebehind help` loads none of their dependencies.
 */
import { describeOptions, type OptionSpecs } from './args.js'
import { EXIT_CODES_HELP } from './exit-codes.js'
import { REDIS_TIER_DEFAULTS } from '../tier/redis/options.js'

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

/** `writebehind dashboard` options. */
export const DASHBOARD_OPTIONS = {
  port: { type: 'number', help: 'port on 127.0.0.1 (default: a random free one)', min: 0, integer: true },
  token: { type: 'string', placeholder: 'secret', help: 'the access token in the URL (default: 32 random bytes)' },
  pg: { type: 'string', placeholder: 'url', help: 'a PostgreSQL URL, to offer it as the store (default: SQLite only)' },
  'work-dir': { type: 'string', placeholder: 'dir', help: 'where runs keep their files (default: a temp dir, removed at exit)' },
  help: { type: 'flag', help: 'show this help' },
} as const satisfies OptionSpecs

/** How the recovery commands (`recover`, `dlq replay`) name their store. */
export const STORE_OPTIONS = {
  store: { type: 'string', placeholder: 'url|path', help: 'postgres://, postgresql://, mysql://, mariadb:// URL, or a SQLite path (sqlite:<path>, file:<path>)' },
  table: { type: 'string', placeholder: 'name', help: `the built-in table in that store (default: writebehind_entries)` },
  'create-table': { type: 'flag', help: 'create the built-in table if it is missing (default: it must exist, and a SQLite file too)' },
  config: { type: 'string', placeholder: 'module', help: 'a .js/.mjs/.cjs module exporting `store` (and optionally `codec`, `close`), instead of --store' },
} as const satisfies OptionSpecs

/** `--redis <url> --name <name>`, or `--redis-cluster <nodes> --name <name>`: a Redis tier instead of a directory (inspect, dlq). */
export const REDIS_OPTIONS = {
  redis: { type: 'string', placeholder: 'url', help: 'a Redis tier instead of <dir>: redis://[user:pass@]host:port[/db] (needs ioredis)' },
  'redis-cluster': {
    type: 'string',
    placeholder: 'nodes',
    help: 'a Redis tier on a Cluster instead of <dir>: host:port[,host:port...] seed nodes (one is enough), or redis://[user:pass@]host:port entries (the credentials go to every node)',
  },
  name: { type: 'string', placeholder: 'name', help: 'with --redis or --redis-cluster: the cache name the app gives new RedisTier({ name })' },
  'timeout-ms': {
    type: 'number',
    min: 100,
    integer: true,
    help: `with --redis or --redis-cluster: how long to wait for Redis to answer (each step; replay: the cache's commandTimeoutMs) before giving up with exit 69 (default: ${REDIS_TIER_DEFAULTS.commandTimeoutMs}, the tier's default)`,
  },
} as const satisfies OptionSpecs

/** `writebehind recover` options. */
export const RECOVER_OPTIONS = {
  ...STORE_OPTIONS,
  timeout: { type: 'number', help: 'give up draining after this many ms (what is left stays in the log)', default: 60_000, min: 0, integer: true },
  help: { type: 'flag', help: 'show this help' },
} as const satisfies OptionSpecs

/** `writebehind dlq` options (each subcommand takes some of them). */
export const DLQ_OPTIONS = {
  json: { type: 'flag', help: 'list: print the letters as JSON' },
  prefix: { type: 'string', placeholder: 'P', help: 'only the letters whose key starts with P' },
  key: { type: 'strings', placeholder: 'K', help: 'only this key (repeatable)' },
  all: { type: 'flag', help: 'drop: every letter' },
  yes: { type: 'flag', help: 'drop: really drop (without it, drop only prints what it would drop)' },
  ...REDIS_OPTIONS,
  ...STORE_OPTIONS,
  help: { type: 'flag', help: 'show this help' },
} as const satisfies OptionSpecs

/** `writebehind inspect` / `verify` options. */
export const INSPECT_OPTIONS = {
  json: { type: 'flag', help: 'print the report as JSON' },
  limit: { type: 'number', help: 'dirty keys to list', default: 50, min: 0, integer: true },
  ...REDIS_OPTIONS,
  help: { type: 'flag', help: 'show this help' },
} as const satisfies OptionSpecs

export const VERIFY_OPTIONS = {
  json: { type: 'flag', help: 'print the result as JSON' },
  help: { type: 'flag', help: 'show this help' },
} as const satisfies OptionSpecs

const STORE_HELP = `The store (recover, dlq replay) is the one the app writes to:
  --store postgres://user:pass@host:5432/db   PostgreSQL (needs the pg package)
  --store mysql://user:pass@host:3306/db      MySQL or MariaDB, also mariadb:// (needs mysql2)
  --store ./app.db | sqlite:./app.db          SQLite (needs better-sqlite3)
  --table <name>                              the built-in table (default writebehind_entries)
  --config ./writebehind.config.mjs           a module that builds the store itself (a mapped
      table, your own pool, a codec): \`export const store = new PostgresStore({ pool, table })\`
      (or a function returning it, or a default-exported { store, codec, close }); \`close()\`,
      if exported, runs at the end (end your pool there). .js/.mjs/.cjs; .ts only under tsx.
The store is checked (reachable, table present and readable, and what store.check() verifies)
before the dir is touched: a store that is not usable is refused with exit 69 and the dir is
left as it was. The table must exist unless --create-table is given (a mistyped URL, path or
table is refused instead of filling a new, empty table). A store that then fails every write
alike stops the run (exit 69): nothing is dead-lettered, the log and the letters stay as they
were; only once the store has applied a write in this run is a write it refuses for good
(bad data) dead-lettered.
`
export const DEMO_USAGE = `Usage: writebehind demo [options]

A leaderboard workload on the embedded SQLite store: concurrent writers update Zipf-distributed
players for --duration seconds, then the cache is closed and the database is checked against
the last value written for every player.

Options:
${describeOptions(DEMO_OPTIONS)}
`

export const DASHBOARD_USAGE = `Usage: writebehind dashboard [options]

Serves a live dashboard and failure simulator on loopback and prints its URL (with a token).
Pick a workload and a durability level, start a run, then crash it (kill -9, power cut) or break
its store (stopped, slow, poisoned rows): the page shows the acknowledged writes lost, exact, and
compares levels. Stop with Ctrl-C.

Options:
${describeOptions(DASHBOARD_OPTIONS)}
`

export const RECOVER_USAGE = `Usage: writebehind recover <dir> (--store <url|path> [--table name] | --config <module>) [options]

Flushes what a dead process left in the dirty log of <dir> into the app's store, offline.
Exit 0 when everything was flushed (or dead-lettered as bad data), 1 when keys stay in the log.

Options:
${describeOptions(RECOVER_OPTIONS)}

${STORE_HELP}
${EXIT_CODES_HELP}`

export const DLQ_USAGE = `Usage:
  writebehind dlq list <dir> [--json] [--prefix P]
  writebehind dlq drop <dir> (--key K ... | --prefix P | --all) [--yes]
  writebehind dlq replay <dir> (--store <url|path> [--table name] | --config <module>) [--key K ... | --prefix P]

list only reads the file. drop and replay take the dir's lock (refused, exit 75, while a cache
runs on it). replay writes each letter with its original version (a newer write wins) and exits
1 when some stay in the queue.

On a Redis tier, give --redis <url> --name <name> instead of <dir> (on a Cluster,
--redis-cluster <host:port,...> --name <name>): list (and drop without --yes)
only read the shard streams; drop --yes removes letters atomically, even while caches run;
replay opens a cache on the tier with the store. Exit 66: no such cache name in Redis;
69: Redis unreachable, or not answering within --timeout-ms.

Options:
${describeOptions(DLQ_OPTIONS)}

${STORE_HELP}
${EXIT_CODES_HELP}`

export const INSPECT_USAGE = `Usage: writebehind inspect <dir> [--json] [--limit n]
       writebehind inspect --redis <url> --name <name> [--json]
       writebehind inspect --redis-cluster <host:port,...> --name <name> [--json]

Shows what a cache directory holds, without taking its lock. With --redis (--redis-cluster on a
Redis Cluster: seed nodes, one is enough), what a Redis tier
holds: shards, dirty keys per shard, the oldest dirty age, dead letters and lease holders, read
without taking a lease or writing anything. Exit 0 (64 bad usage, 66 no dir or no such cache
name, 69 Redis unreachable, not answering within --timeout-ms, or ioredis not installed).

Options:
${describeOptions(INSPECT_OPTIONS)}
`

export const VERIFY_USAGE = `Usage: writebehind verify <dir> [--json]

Checks every record of the dirty log without taking its lock or repairing anything.
Exit 0 clean, 1 only a torn tail (repaired by the next open), 2 corrupt or unreadable;
64 bad usage, 66 no such dir.

Options:
${describeOptions(VERIFY_OPTIONS)}
`

export const MAIN_USAGE = `Usage: writebehind <command> [options]

Commands:
  demo [options]                  run the leaderboard demo on SQLite (no server needed)
  dashboard [options]             live dashboard and failure simulator in the browser
  inspect <dir> [--json] [--limit n]
                                  show what a cache directory holds (log segments, checkpoint,
                                  dirty keys, dead letters)
  inspect --redis <url> --name <name> [--json]
  inspect --redis-cluster <host:port,...> --name <name> [--json]
                                  show what a Redis tier holds (dirty keys and oldest age per
                                  shard, dead letters, lease holders)
  verify <dir> [--json]           check every record of a dirty log (checksums, framing, order)
  recover <dir> --store <url|path> | --config <module>
                                  flush a dead process's dirty log into the app's store
  dlq list|drop|replay <dir> | --redis <url> --name <name> | --redis-cluster <nodes> --name <name>
                                  list, drop or replay dead letters (of a dir or a Redis tier)
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
  writebehind dlq replay <dir> (--store <url|path> | --config <module>) [--key K ... | --prefix P]
  (on a Redis tier: --redis <url> --name <name> instead of <dir>; on a Cluster:
  --redis-cluster <host:port,...> --name <name>)

${STORE_HELP}
${EXIT_CODES_HELP}`
