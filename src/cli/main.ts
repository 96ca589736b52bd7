/**
 * The `writebehind` command: reads `process.argv`, loads the named command lazily (so a command's
 * dependencies load only when it runs), and sets `process.exitCode` from what it returns.
 *
 *   writebehind demo | dashboard | inspect | verify | recover | dlq | help | --version
 *
 * The exit code is the command's own, in the one convention of exit-codes.ts; main itself exits
 * 64 on an unknown command and 70 when a command throws. When the reader of stdout goes away
 * (`writebehind dlq list | head -1`: EPIPE), it exits at once, quietly, with status 0.
 * Importing this module runs the CLI: it is the entry point, not a library.
 */
import { readFileSync } from 'node:fs'
import { closest } from './args.js'
import { EXIT } from './exit-codes.js'
import { MAIN_USAGE } from './usage.js'

/** What every module under `commands/` exports. */
export interface CommandModule {
  run(args: string[], out: NodeJS.WritableStream): Promise<number>
}

const COMMANDS = new Set(['demo', 'dashboard', 'inspect', 'verify', 'recover', 'dlq'])

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
    const close = closest(name.replace(/^-+/, ''), [...COMMANDS, 'help', 'version'])
    const hint = close === undefined ? '' : ` (did you mean ${close === 'version' ? '--version' : close}?)`
    out.write(`error: unknown command "${name}"${hint}\n\n${MAIN_USAGE}`)
    return EXIT.USAGE
  }
  const command = await load(name)
  if (command === undefined) {
    out.write(`error: the ${name} command is not part of this build\n`)
    return EXIT.INTERNAL
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

/** The package version, from package.json (two levels up from src/cli and from dist/cli). */
function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name?: unknown; version?: unknown }
    if (pkg.name === 'writebehind' && typeof pkg.version === 'string') return pkg.version
  } catch {
    // not found or not readable: say so below
  }
  return 'unknown'
}

// The reader went away (`| head`): nothing more can be shown, so stop now, quietly. Being stopped
// here is no worse for a dir than being killed, which the log is built to survive.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(EXIT.OK)
  throw error
})

main(process.argv.slice(2), process.stdout).then(
  (code) => finish(code),
  (error: unknown) => {
    process.stderr.write(`error (internal, please report): ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    finish(EXIT.INTERNAL)
  },
)

/** Sets the exit code; a pool a --config module left open (or any other handle) does not keep the process alive. */
function finish(code: number): void {
  process.exitCode = code
  setTimeout(() => process.exit(code), 200).unref()
}
