// The stores the conformance suite runs on under each test runner (test/runners/conformance.*.mjs),
// imported from the BUILT package by its own name, as a third-party store's tests import it. The
// options declare every method a store lacks, so Jest (which cannot skip a running case) reports
// the same cases as node:test and Vitest. Run by test/integration/conformance-runners.test.ts.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryStore } from 'writebehind'
import { SqliteStore } from 'writebehind/sqlite'
import { describeStoreConformance } from 'writebehind/testing'
import { FencelessStore } from '../helpers/fenceless-store.mjs'

/** A SqliteStore on a file in a directory of its own, removed after the case. */
async function sqlite() {
  const dir = mkdtempSync(join(tmpdir(), 'wb-runners-'))
  const store = new SqliteStore({ path: join(dir, 'conformance.db') })
  return { store, cleanup: async () => (await store.close(), rmSync(dir, { recursive: true, force: true })) }
}

/** Registers the suite with `runner` ({ describe, it } of node:test, vitest or @jest/globals). */
export function describeStores(runner) {
  describeStoreConformance(runner, 'SqliteStore', sqlite)
  // superseded: false only to have cases reported as skipped, with their reason.
  describeStoreConformance(runner, 'MemoryStore', async () => ({ store: new MemoryStore() }), { ping: false, superseded: false })
  describeStoreConformance(runner, 'SqliteStore without its version fence (must fail)', async () => {
    const made = await sqlite()
    return { ...made, store: new FencelessStore(made.store) }
  })
}
