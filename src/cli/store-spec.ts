/**
 * The stores the recovery commands (`recover`, `dlq replay`) write to: the ones a user's app has.
 *
 *   postgres://… postgresql://…   PostgresStore on a pg Pool (needs the `pg` package)
 *   mysql://… mariadb://…         MySqlStore on a mysql2 pool (needs the `mysql2` package)
 *   sqlite:<path> file:<path> <path>   SqliteStore (needs the `better-sqlite3` package)
 *   --config <module>             a .js/.mjs/.cjs module (.ts when run under tsx) that builds the
 *                                 store itself: mapped tables, pools, codec, exactly as the app
 *
 * Drivers are optional peer dependencies, imported only when used. `checkStore` verifies the store
 * before a command touches the dir: `store.check()` where the store has it (reachable, table
 * usable, privileges), else `ping()`, then a read of the table.
 */
import { existsSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Codec } from '../contracts/codec.js'
import type { Store } from '../contracts/store.js'
import type { MySqlPoolLike } from '../stores/sql/mysql/executor.js'
import type { PgPoolLike } from '../stores/sql/postgres/executor.js'
import { CliError, EXIT } from './exit-codes.js'

/** What the command line says about the store. */
export interface StoreChoice {
  /** `--store`: a URL or a SQLite path. */
  readonly store?: string | undefined
  /** `--table`: the built-in table's name (URL and path stores). */
  readonly table?: string | undefined
  /** `--config`: a module exporting the store. */
  readonly config?: string | undefined
  /** `--create-table`: create the built-in table when it is missing (default: it must exist). */
  readonly createTable: boolean
}

/** A store opened for a command, with what to release afterwards. */
export interface CliStore {
  readonly store: Store
  /** For messages: the URL without its password, the path, or the module. */
  readonly label: string
  /** The codec the app uses (from a --config module), else the default JSON codec. */
  readonly codec?: Codec | undefined
  /** Ends what the CLI opened besides the store (a pool, the module's own `close`). Never throws. */
  release(): Promise<void>
}

export const DEFAULT_TABLE = 'writebehind_entries'

/** Opens the store `choice` describes. Throws `CliError`: USAGE for a bad spec, NO_INPUT for a missing module, UNAVAILABLE for a missing driver or file. */
export async function openStore(choice: StoreChoice): Promise<CliStore> {
  if (choice.config !== undefined) return openConfig(choice.config)
  const spec = choice.store as string
  const table = choice.table ?? DEFAULT_TABLE
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(spec)?.[1]?.toLowerCase()
  if (scheme === 'postgres' || scheme === 'postgresql') return openPostgres(spec, table, choice.createTable)
  if (scheme === 'mysql' || scheme === 'mariadb') return openMySql(spec, table, choice.createTable)
  if (scheme === 'sqlite' || scheme === 'file') return openSqlite(sqlitePath(spec, scheme), table, choice.createTable)
  if (scheme !== undefined && scheme.length > 1 && spec.includes('://')) {
    throw new CliError(
      EXIT.USAGE,
      `--store ${redact(spec)}: unknown store kind "${scheme}:". Give a postgres://, postgresql://, mysql:// or mariadb:// URL, a SQLite path (or sqlite:<path>), or --config <module>.`,
    )
  }
  return openSqlite(spec, table, choice.createTable)
}

/**
 * Checks that the store can be written before anything in the dir changes. Throws `CliError`
 * (UNAVAILABLE) naming the cause and the store.
 */
export async function checkStore(opened: CliStore): Promise<void> {
  const { store } = opened
  try {
    if (store.check !== undefined) await store.check()
    else await store.ping?.()
    // A read of the table: refuses a missing table or a role that cannot read it.
    await store.load(['writebehind:cli-check'])
  } catch (error) {
    throw unavailable(opened.label, error)
  }
}

/** The `CliError` for a store that failed its check. */
export function unavailable(label: string, error: unknown): CliError {
  // The stores' retry advice is for a running cache; here nothing is retried.
  const reason = (error instanceof Error ? error.message : String(error)).replace(/ This looks transient \([^)]*\); the batch will be retried\.$/, '')
  return new CliError(EXIT.UNAVAILABLE, `the store ${label} is not usable: ${reason}\nNothing in the dir was changed. Fix the store (or the --store / --config given) and run again.`, { cause: error })
}

/** `sqlite:path`, `sqlite://path`, `file:path`, `file:///abs/path` → the path. */
function sqlitePath(spec: string, scheme: string): string {
  if (scheme === 'file' && spec.startsWith('file://')) return fileURLToPath(spec)
  return spec.slice(scheme.length + 1).replace(/^\/\/(?=\/)/, '')
}

async function openSqlite(path: string, table: string, createTable: boolean): Promise<CliStore> {
  if (path === '') throw new CliError(EXIT.USAGE, '--store needs a SQLite path')
  const parent = dirname(resolve(path))
  if (!isDirectory(parent)) throw new CliError(EXIT.UNAVAILABLE, `the SQLite file ${path} cannot exist: its directory ${parent} does not exist. Check the path.`)
  if (existsSync(path) && !statSync(path).isFile()) throw new CliError(EXIT.UNAVAILABLE, `the SQLite path ${path} is not a file. Check the path.`)
  if (!existsSync(path) && !createTable) {
    throw new CliError(EXIT.UNAVAILABLE, `the SQLite file ${path} does not exist. Check the path (the app's database), or pass --create-table to create a new database with the table.`)
  }
  await requireDriver('better-sqlite3', 'a SQLite path')
  const { SqliteStore } = await import('../stores/sql/sqlite/store.js')
  const store = new SqliteStore({ path, table, createTable })
  return { store, label: `${path} (SQLite, table ${table})`, release: async () => {} }
}

async function openPostgres(url: string, table: string, createTable: boolean): Promise<CliStore> {
  const pg = (await requireDriver('pg', 'a postgres:// URL')) as { default?: PgModule } & PgModule
  const { Pool } = pg.default ?? pg
  const pool = new Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10_000 })
  pool.on('error', () => {}) // an idle client dropped by the server: the next query reconnects
  const { PostgresStore } = await import('../stores/sql/postgres/store.js')
  const store = new PostgresStore({ pool, table, createTable })
  return { store, label: `${redact(url)} (table ${table})`, release: () => pool.end().catch(() => undefined) }
}

async function openMySql(url: string, table: string, createTable: boolean): Promise<CliStore> {
  const mysql = (await requireDriver('mysql2/promise', 'a mysql:// URL', 'mysql2')) as { default?: MySqlModule } & MySqlModule
  const driver = mysql.default ?? mysql
  const pool = driver.createPool({ uri: url.replace(/^mariadb:/i, 'mysql:'), connectionLimit: 4, connectTimeout: 10_000 })
  pool.on?.('error', () => {})
  const { MySqlStore } = await import('../stores/sql/mysql/store.js')
  const store = new MySqlStore({ pool, table, createTable })
  return { store, label: `${redact(url)} (table ${table})`, release: () => pool.end().catch(() => undefined) }
}

interface PgModule {
  Pool: new (config: object) => PgPoolLike & { on(event: 'error', fn: () => void): unknown; end(): Promise<void> }
}
interface MySqlModule {
  createPool(this: void, config: object): MySqlPoolLike & { on?(event: 'error', fn: () => void): unknown; end(): Promise<void> }
}

/** What a `--config` module exports (as `default`, or as named exports). */
interface ConfigExports {
  store?: unknown
  codec?: unknown
  close?: unknown
}

/**
 * Loads a `--config` module: it exports `store` (a Store, or a function returning one or a
 * promise of one) and optionally `codec` and `close()` (ends the pools it opened), as named
 * exports or as one default-exported object (or a function returning that object).
 */
async function openConfig(path: string): Promise<CliStore> {
  const file = resolve(path)
  if (!existsSync(file)) throw new CliError(EXIT.NO_INPUT, `no such --config module: ${path}`)
  let module: ConfigExports & { default?: unknown }
  try {
    module = (await import(pathToFileURL(file).href)) as ConfigExports & { default?: unknown }
  } catch (error) {
    const hint = /\.[cm]?tsx?$/.test(file) ? ' (a .ts module loads only when writebehind runs under tsx: use .js or .mjs, or run `node --import tsx`)' : ''
    // A package the module imports is not installed (its driver, most often): the store is unavailable.
    const code = (error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND' ? EXIT.UNAVAILABLE : EXIT.USAGE
    throw new CliError(code, `cannot load --config ${path}${hint}: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
  }
  let exports: ConfigExports = module.store !== undefined ? module : await resolveDefault(module.default)
  if (typeof exports.store === 'function') exports = { ...exports, store: await (exports.store as () => unknown)() }
  const store = exports.store
  if (!isStore(store)) {
    throw new CliError(EXIT.USAGE, `--config ${path} must export \`store\`: a Store (an object with writeBatch and load), or a function returning one (named export, or in a default-exported object)`)
  }
  const close = exports.close
  if (close !== undefined && typeof close !== 'function') throw new CliError(EXIT.USAGE, `--config ${path}: \`close\` must be a function`)
  const codec = exports.codec as Codec | undefined
  return {
    store,
    label: `from ${path}`,
    codec,
    release: async () => {
      await Promise.resolve()
        .then(() => (close as (() => unknown) | undefined)?.())
        .catch(() => undefined)
    },
  }
}

async function resolveDefault(value: unknown): Promise<ConfigExports> {
  const resolved: unknown = typeof value === 'function' ? await (value as () => unknown)() : value
  if (isStore(resolved)) return { store: resolved }
  return typeof resolved === 'object' && resolved !== null ? resolved : {}
}

function isStore(value: unknown): value is Store {
  return typeof value === 'object' && value !== null && typeof (value as Store).writeBatch === 'function' && typeof (value as Store).load === 'function'
}

/** Imports a driver package, or says which one to install. */
export async function requireDriver(specifier: string, forWhat: string, pkg = specifier): Promise<unknown> {
  try {
    return await import(specifier)
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND') {
      throw new CliError(EXIT.UNAVAILABLE, `${forWhat} needs the ${pkg} package, which is not installed: npm install ${pkg}`, { cause: error })
    }
    throw error
  }
}

/** The URL without its password. */
export function redact(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@')
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

/** The store options of a parsed command line; a `CliError` (USAGE) when they are missing or mixed. */
export function storeChoice(options: { store?: string | undefined; table?: string | undefined; config?: string | undefined; createTable: boolean }, command: string): StoreChoice {
  if (options.config !== undefined) {
    if (options.store !== undefined || options.table !== undefined || options.createTable) {
      throw new CliError(EXIT.USAGE, `${command}: give --config alone (the module builds the store and names its table), or --store [--table] [--create-table]`)
    }
    return { config: options.config, createTable: false }
  }
  if (options.store === undefined) {
    throw new CliError(EXIT.USAGE, `${command} needs --store <url|path> (a postgres:// or mysql:// URL, or a SQLite path) or --config <module>: the store to write to`)
  }
  return { store: options.store, table: options.table, createTable: options.createTable }
}
