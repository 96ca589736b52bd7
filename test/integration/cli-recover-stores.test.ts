/**
 * `writebehind recover` and `dlq replay` on the stores a user's app has: real PostgreSQL and
 * MariaDB through URLs (unique tables), a `--config` module building a mapped-table store, and
 * the refusals that keep the recovery path: a server that is down, a missing table, a SQLite path
 * under a missing dir (exit 69, the dir byte for byte unchanged), and a store that fails every
 * write alike (exit 69, nothing dead-lettered, the log and the letters as they were).
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type mysql from 'mysql2/promise'
import type pg from 'pg'
import { run as dlq } from '../../src/cli/commands/dlq.js'
import { run as recover } from '../../src/cli/commands/recover.js'
import { DeadLetterQueue, readDeadLetters } from '../../src/dead-letters/queue.js'
import type { DeadLetter } from '../../src/contracts/dead-letters.js'
import { readLogView } from '../../src/cli/dir-view.js'
import { snapshot } from '../helpers/dir-snapshot.js'
import { leaveDirtyLog } from '../helpers/dirty-dir.js'
import { freePort } from '../helpers/own-servers.js'
import { MYSQL_URL, mysqlPool, PG_URL, pgPool, uniqueName } from '../helpers/store-servers.js'
import { runCaptured } from '../helpers/capture.js'

const SRC = fileURLToPath(new URL('../../src/', import.meta.url))

async function cli(command: typeof recover, args: string[]): Promise<{ code: number; text: string }> {
  return runCaptured(command, args)
}

function letter(key: string, version: number): DeadLetter {
  return {
    key,
    version,
    kind: 'set',
    encoded: `{"n":${version}}`,
    error: { name: 'StoreError', code: 'E_POISON', message: `bad row ${key}`, retryable: false },
    attempts: 2,
    firstFailedAt: Date.UTC(2026, 0, 1),
    lastFailedAt: Date.UTC(2026, 0, 1, 0, 0, 5),
  }
}

async function dirWithLetters(root: string): Promise<string> {
  const dir = join(root, 'letters')
  const queue = await DeadLetterQueue.open(dir)
  await queue.add([letter('user:1', 4), letter('user:2', 7)])
  await queue.close()
  return dir
}

/** A --config module whose store refuses every write alike (a role without INSERT), while reads and pings work. */
async function refusingConfig(root: string): Promise<string> {
  const path = join(root, 'refusing.config.mjs')
  await writeFile(
    path,
    `import { StoreError } from ${JSON.stringify(join(SRC, 'errors.ts'))}
export const store = {
  calls: 0,
  async writeBatch() { throw new StoreError('permission denied for table scores', { retryable: false }) },
  async load() { return new Map() },
  async ping() {},
}
`,
  )
  return path
}

let root: string
let pgAdmin: pg.Pool
let mysqlAdmin: mysql.Pool
const pgTables: string[] = []
const mysqlTables: string[] = []

before(async () => {
  pgAdmin = await pgPool(2)
  mysqlAdmin = await mysqlPool(2)
})

after(async () => {
  for (const table of pgTables) await pgAdmin.query(`DROP TABLE IF EXISTS "${table}"`)
  for (const table of mysqlTables) await mysqlAdmin.query(`DROP TABLE IF EXISTS \`${table}\``)
  await pgAdmin.end()
  await mysqlAdmin.end()
})

async function withRoot(fn: () => Promise<void>): Promise<void> {
  root = await mkdtemp(join(tmpdir(), 'wb-cli-stores-'))
  try {
    await fn()
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

function assertRows(rows: Array<{ key: string; value: unknown; deleted: unknown }>, expected: Map<string, unknown>): void {
  const byKey = new Map(rows.map((row) => [row.key, row]))
  assert.equal(byKey.size, expected.size)
  for (const [key, value] of expected) {
    const row = byKey.get(key)
    assert.ok(row !== undefined, `${key} missing from the store`)
    if (value === undefined) assert.ok(row.deleted === true || row.deleted === 1, `${key} should be a tombstone`)
    else assert.deepEqual(typeof row.value === 'string' ? JSON.parse(row.value) : row.value, value, key)
  }
}

describe('recover into PostgreSQL and MariaDB by URL', () => {
  it('PostgreSQL: refuses a missing table (dir unchanged), then recovers into the --table given with --create-table', async () => {
    await withRoot(async () => {
      const dir = join(root, 'cache')
      const expected = await leaveDirtyLog(dir)
      const table = uniqueName('cli_pg')
      pgTables.push(table)
      const before = await snapshot(dir)
      const missing = await cli(recover, [dir, '--store', PG_URL, '--table', table])
      assert.equal(missing.code, 69, missing.text)
      assert.match(missing.text, new RegExp(`${table}.*does not exist|does not exist.*${table}`))
      assert.match(missing.text, /Nothing in the dir was changed/)
      assert.deepEqual(await snapshot(dir), before)

      const done = await cli(recover, [dir, '--store', PG_URL, '--table', table, '--create-table'])
      assert.equal(done.code, 0, done.text)
      assert.match(done.text, /flushed 25 of 25 keys/)
      const { rows } = await pgAdmin.query(`SELECT key, value, deleted FROM "${table}"`)
      assertRows(rows as never, expected)
    })
  })

  for (const scheme of ['mysql', 'mariadb']) {
    it(`MariaDB through a ${scheme}:// URL, into an existing table`, async () => {
      await withRoot(async () => {
        const dir = join(root, 'cache')
        const expected = await leaveDirtyLog(dir)
        const table = uniqueName(`cli_${scheme}`)
        mysqlTables.push(table)
        // The app created its table; recover finds it (no --create-table).
        const { MySqlStore } = await import('../../src/stores/sql/mysql/store.js')
        await new MySqlStore({ pool: mysqlAdmin, table }).init()
        const url = MYSQL_URL.replace(/^mysql:/, `${scheme}:`)
        const done = await cli(recover, [dir, '--store', url, '--table', table])
        assert.equal(done.code, 0, done.text)
        assert.match(done.text, /flushed 25 of 25 keys/)
        const [rows] = await mysqlAdmin.query(`SELECT CAST(\`key\` AS CHAR) AS \`key\`, value, deleted FROM \`${table}\``)
        assertRows(rows as never, expected)
      })
    })
  }
})

describe('recover with --config', () => {
  it('builds the store in the module (a mapped PostgreSQL table, its own pool) and ends the pool with its close()', async () => {
    await withRoot(async () => {
      const dir = join(root, 'cache')
      const expected = await leaveDirtyLog(dir)
      const table = uniqueName('cli_scores')
      pgTables.push(table)
      await pgAdmin.query(`CREATE TABLE "${table}" (player text PRIMARY KEY, n integer, name text, ver bigint NOT NULL, gone boolean NOT NULL DEFAULT false)`)
      const config = join(root, 'writebehind.config.mjs')
      await writeFile(
        config,
        `import pg from ${JSON.stringify(pathToFileURL(createRequire(import.meta.url).resolve('pg')).href)}
import { PostgresStore } from ${JSON.stringify(join(SRC, 'stores/sql/postgres/index.ts'))}
const pool = new pg.Pool({ connectionString: ${JSON.stringify(PG_URL)} })
export const store = new PostgresStore({
  pool,
  table: {
    name: ${JSON.stringify(table)}, key: 'player', version: 'ver', deleted: 'gone',
    columns: { n: (v) => v.n, name: (v) => v.name },
    fromRow: (row) => ({ n: row.n, name: row.name }),
  },
})
export let ended = false
export async function close() { await pool.end(); ended = true }
`,
      )
      const done = await cli(recover, [dir, '--config', config])
      assert.equal(done.code, 0, done.text)
      assert.match(done.text, /flushed 25 of 25 keys/)
      const { rows } = await pgAdmin.query(`SELECT player AS key, n, name, gone AS deleted FROM "${table}"`)
      assertRows(
        (rows as Array<{ key: string; n: number; name: string; deleted: boolean }>).map((r) => ({ key: r.key, deleted: r.deleted, value: r.deleted ? null : { n: r.n, name: r.name } })),
        expected,
      )
      const module = (await import(config)) as { ended: boolean }
      assert.equal(module.ended, true, "the module's close() ran")

      const mixed = await cli(recover, [dir, '--config', config, '--store', PG_URL])
      assert.equal(mixed.code, 64)
      assert.match(mixed.text, /give --config alone/)
      const absent = await cli(recover, [dir, '--config', join(root, 'nope.mjs')])
      assert.equal(absent.code, 66)
      assert.match(absent.text, /no such --config module/)
    })
  })
})

describe('recover refuses a store that is not usable, leaving the dir byte for byte unchanged', () => {
  it('a PostgreSQL or MySQL URL to a port nobody listens on, and a SQLite path under a missing dir', async () => {
    await withRoot(async () => {
      const dir = join(root, 'cache')
      await leaveDirtyLog(dir)
      const before = await snapshot(dir)
      const port = await freePort()
      for (const store of [`postgres://postgres@127.0.0.1:${port}/test`, `mysql://root@127.0.0.1:${port}/test`, join(root, 'no-such-dir', 'app.db')]) {
        const { code, text } = await cli(recover, [dir, '--store', store, '--create-table'])
        assert.equal(code, 69, `${store}: ${text}`)
        assert.match(text, /is not usable|cannot exist/, store)
        assert.deepEqual(await snapshot(dir), before, store)
      }
      assert.equal(readLogView(dir).dirty.length, 25)
    })
  })

  it('a store that fails every write alike: stops (69), dead-letters nothing, and the log still holds every key', async () => {
    await withRoot(async () => {
      const dir = join(root, 'cache')
      const expected = await leaveDirtyLog(dir)
      const { code, text } = await cli(recover, [dir, '--config', await refusingConfig(root), '--timeout', '30000'])
      assert.equal(code, 69, text)
      assert.match(text, /stopped: .*permission denied for table scores/)
      assert.match(text, /nothing was dead-lettered/)
      assert.deepEqual((await readDeadLetters(dir)).letters, [])
      assert.equal(readLogView(dir).dirty.length, 25, 'every key is still in the log')

      // Once the store works, everything lands.
      const db = join(root, 'app.db')
      const retry = await cli(recover, [dir, '--store', db, '--create-table'])
      assert.equal(retry.code, 0, retry.text)
      assert.match(retry.text, /flushed 25 of 25 keys/)
      const { default: Database } = await import('better-sqlite3')
      const sqlite = new Database(db, { readonly: true })
      const rows = sqlite.prepare('SELECT key, value, deleted FROM writebehind_entries').all()
      sqlite.close()
      assertRows(rows as never, expected)
    })
  })
})

describe('recover still dead-letters bad data once the store has shown it works', () => {
  it('a poison row among good ones (whole batch fails, bisected) is dead-lettered, the rest land, exit 0', async () => {
    await withRoot(async () => {
      const dir = join(root, 'cache')
      await leaveDirtyLog(dir)
      const config = join(root, 'poison.config.mjs')
      await writeFile(
        config,
        `import { PoisonStore } from ${JSON.stringify(fileURLToPath(new URL('../helpers/faulty-stores.ts', import.meta.url)))}
import { MemoryStore } from ${JSON.stringify(join(SRC, 'stores/memory-store.ts'))}
export const inner = new MemoryStore()
export const store = new PoisonStore(inner, { isPoison: (op) => op.key === 'user:14' })
`,
      )
      const { code, text } = await cli(recover, [dir, '--config', config])
      assert.equal(code, 0, text)
      assert.match(text, /flushed 24 of 25 keys to the store in .*, 1 dead-lettered/)
      assert.deepEqual(
        (await readDeadLetters(dir)).letters.map((l) => [l.key, l.error.code]),
        [['user:14', 'E_POISON']],
      )
    })
  })
})

describe('dlq replay on the stores a user has', () => {
  it('replays into PostgreSQL by URL with the original versions', async () => {
    await withRoot(async () => {
      const dir = await dirWithLetters(root)
      const table = uniqueName('cli_dlq')
      pgTables.push(table)
      const { code, text } = await cli(dlq, ['replay', dir, '--store', PG_URL, '--table', table, '--create-table'])
      assert.equal(code, 0, text)
      assert.match(text, /Replayed 2 dead letters/)
      const { rows } = await pgAdmin.query(`SELECT key, version::int AS version FROM "${table}" ORDER BY key`)
      assert.deepEqual(rows, [
        { key: 'user:1', version: 4 },
        { key: 'user:2', version: 7 },
      ])
      assert.deepEqual((await readDeadLetters(dir)).letters, [])
    })
  })

  it('against a server that is down, or a store failing every write alike, leaves every letter and its error as it was', async () => {
    await withRoot(async () => {
      const dir = await dirWithLetters(root)
      const before = await snapshot(dir)
      const down = await cli(dlq, ['replay', dir, '--store', `postgres://postgres@127.0.0.1:${await freePort()}/test`])
      assert.equal(down.code, 69, down.text)
      assert.deepEqual(await snapshot(dir), before, 'a refused store changes nothing in the dir')

      const refusing = await cli(dlq, ['replay', dir, '--config', await refusingConfig(root)])
      assert.equal(refusing.code, 69, refusing.text)
      assert.match(refusing.text, /Every dead letter stays in the queue, with its error/)
      assert.deepEqual((await readDeadLetters(dir)).letters, [letter('user:1', 4), letter('user:2', 7)], 'letters and their errors unchanged')
    })
  })
})
