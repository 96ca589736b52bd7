// The Store conformance suite under Vitest (not node:test): `npx vitest run --config test/vitest/vitest.config.ts`.
// Vitest's globals are used so that this file typechecks before vitest is installed; a user writes
// `import { describe, it } from 'vitest'` instead.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryStore } from '../../src/stores/memory-store.js'
import { SqliteStore } from '../../src/stores/sql/sqlite/index.js'
import { type ConformanceRunner, describeStoreConformance } from '../../src/testing/index.js'

const { describe, it, afterAll } = globalThis as unknown as ConformanceRunner & { afterAll: (fn: () => void) => void }

const dir = mkdtempSync(join(tmpdir(), 'wb-vitest-'))
let files = 0
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeStoreConformance({ describe, it }, 'SqliteStore under Vitest', async () => {
  const store = new SqliteStore({ path: join(dir, `conformance-${files++}.db`) })
  return { store, cleanup: () => store.close() }
})

describeStoreConformance({ describe, it }, 'MemoryStore under Vitest', async () => ({ store: new MemoryStore() }), { superseded: false })
