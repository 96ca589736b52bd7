/**
 * The `writebehind` command: reads `process.argv`, loads the named command lazily (so a command's
 * dependencies load only when it runs), and sets `process.exitCode` from what it returns.
 *
 *   writebehind demo | inspect | verify | recover | dlq | help | --version
 *
 * The exit code is the command's own (see each command's header); main itself exits 2 on an
 * unknown command and 1 when a command throws.
 * Importing this module runs the CLI: it is the entry point, not a library.
 */
import { readFileSync } from 'node:fs'
import { MAIN_USAGE } from './usage.js'

/** What every module under `commands/` exports. */
export interface CommandModule {
  run(args: string[], out: NodeJS.WritableStream): Promise<number>
}

const COMMANDS = new Set(['demo', 'inspect', 'verify', 'recover', 'dlq'])

/** Runs the CLI with `argv` (the arguments after the script), writing to `out`; resolves with the exit code. */
async function main(argv: readonly string[], out: NodeJS.WritableStream): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    out.write(MAIN_USAGE)
    return 0
  }
  if (name === '--version' || name === '-v') {
    out.write(`${version()}\n`)
    return 0
  }
  if (!COMMANDS.has(name)) {
    out.write(`error: unknown command "${name}"\n\n${MAIN_USAGE}`)
    return 2
  }
  const command = await load(name)
  if (command === undefined) {
    out.write(`error: the ${name} command is not part of this build\n`)
    return 1
  }
  return command.run(rest, out)
}

/** Imports `commands/<name>`; undefined when that module is missing (not its dependencies). */
async function load(name: string): Promise<CommandModule | undefined> {
  const specifier = `./commands/${name}.js`
  try {
    // A template path keeps each command out of the static graph: only the one used is loaded.
    return (await import(specifier)) as CommandModule
  } catch (error) {
    const missing = (error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes(`commands/${name}.`)
    if (missing) return undefined
    throw error
  }
}

/** The package version, from package.json (two levels up from src/cli, three from dist/src/cli). */
function version(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown }
      if (pkg.name === 'writebehind' && typeof pkg.version === 'string') return pkg.version
    } catch {
      // not at this level: try the next
    }
  }
  return 'unknown'
}

main(process.argv.slice(2), process.stdout).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exitCode = 1
  },
)
