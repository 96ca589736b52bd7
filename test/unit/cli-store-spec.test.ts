// How the recovery commands name a store: URL schemes, SQLite path forms, a password kept out of
// messages, an unknown scheme refused as usage, a missing driver package named with its install line.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { CliError } from '../../src/cli/exit-codes.js'
import { openStore, redact, requireDriver, storeChoice } from '../../src/cli/store-spec.js'

describe('store specs', () => {
  it('opens a SQLite file given as a path, sqlite:<path>, file:<path> or a file:// URL', async () => {
    const root = await mkdtemp(join(tmpdir(), 'wb-store-spec-'))
    try {
      const path = join(root, 'app.db')
      for (const spec of [path, `sqlite:${path}`, `file:${path}`, pathToFileURL(path).href]) {
        const opened = await openStore({ store: spec, table: 'rows', createTable: true })
        assert.equal(opened.label, `${path} (SQLite, table rows)`, spec)
        await opened.store.writeBatch([{ kind: 'set', key: 'k', version: 1, value: 1, encoded: '1' }])
        await opened.store.close?.()
        await opened.release()
      }
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('refuses an unknown scheme (64), a missing SQLite file without --create-table (69), and mixed or missing store options (64)', async () => {
    await assert.rejects(
      openStore({ store: 'redis://127.0.0.1:6379', createTable: false }),
      (e: unknown) => e instanceof CliError && e.exitCode === 64 && /unknown store kind "redis:"/.test(e.message),
    )
    await assert.rejects(
      openStore({ store: join(tmpdir(), 'wb-no-such.db'), createTable: false }),
      (e: unknown) => e instanceof CliError && e.exitCode === 69 && /does not exist.*--create-table/.test(e.message),
    )
    assert.throws(
      () => storeChoice({ config: 'c.mjs', store: 'x.db', createTable: false }, 'recover'),
      (e: unknown) => e instanceof CliError && e.exitCode === 64,
    )
    assert.throws(
      () => storeChoice({ createTable: false }, 'dlq replay'),
      (e: unknown) => e instanceof CliError && e.exitCode === 64 && /dlq replay needs --store/.test(e.message),
    )
  })

  it('keeps a password out of what it prints', () => {
    assert.equal(redact('postgres://app:s3cret@db:5432/prod'), 'postgres://app:***@db:5432/prod')
    assert.equal(redact('mysql://root@127.0.0.1/test'), 'mysql://root@127.0.0.1/test')
  })

  it('names the package to install when a driver is missing (69)', async () => {
    await assert.rejects(requireDriver('wb-no-such-driver', 'a test URL'), (e: unknown) => e instanceof CliError && e.exitCode === 69 && /npm install wb-no-such-driver/.test(e.message))
  })
})
