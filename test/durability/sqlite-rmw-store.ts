/**
 * A test-only Store on SQLite that applies merge ops by read-modify-write in one transaction per
 * batch, on the built-in table layout (key, value, version, deleted, updated_at). It lets the
 * counter kill test run (`WB_COUNTER_STORE=rmw`) before `SqliteStore` applies merge ops itself; it
 * keeps the Store contract (fenced ops, tombstones, a merge on a missing or deleted row starting
 * from its operand, a non-number failing that op alone) but none of SqliteStore's batching.
 */
import Database from 'better-sqlite3'
import type { BatchResult, LoadedEntry, MergeKind, OpFailure, Store, StoreMergeOp, StoreOp } from '../../src/contracts/store.js'
import { StoreError } from '../../src/errors.js'
import { TABLE } from './crash-protocol.js'

interface Row {
  value: string | null
  version: number
  deleted: number
}

export class SqliteRmwStore implements Store {
  readonly merges: readonly MergeKind[] = ['sum', 'max', 'min']
  private readonly db: Database.Database
  private readonly select: Database.Statement<[string], Row>
  private readonly upsert: Database.Statement<[string, string | null, number, number]>

  constructor(path: string) {
    this.db = new Database(path)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = FULL')
    this.db.exec(
      `CREATE TABLE IF NOT EXISTS ${TABLE} ("key" TEXT NOT NULL PRIMARY KEY, "value" TEXT, "version" INTEGER NOT NULL, "deleted" INTEGER NOT NULL DEFAULT 0, "updated_at" TEXT NOT NULL DEFAULT '') WITHOUT ROWID`,
    )
    this.select = this.db.prepare(`SELECT value, version, deleted FROM ${TABLE} WHERE key = ?`)
    this.upsert = this.db.prepare(
      `INSERT INTO ${TABLE} (key, value, version, deleted) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version, deleted = excluded.deleted`,
    )
  }

  async writeBatch(ops: readonly StoreOp[]): Promise<BatchResult> {
    const failures: OpFailure[] = []
    let fenced = 0
    this.db.transaction(() => {
      for (const [index, op] of ops.entries()) {
        const row = this.select.get(op.key)
        if (row !== undefined && row.version >= op.version) {
          fenced++
          continue
        }
        const value = op.kind === 'merge' ? merged(row, op) : op.kind === 'set' ? op.encoded : null
        if (value instanceof StoreError) failures.push({ index, error: value })
        else this.upsert.run(op.key, value, op.version, op.kind === 'delete' ? 1 : 0)
      }
    })()
    return failures.length > 0 ? { fenced, failures } : { fenced }
  }

  async load(keys: readonly string[]): Promise<Map<string, LoadedEntry>> {
    const out = new Map<string, LoadedEntry>()
    for (const key of keys) {
      const row = this.select.get(key)
      if (row !== undefined && row.deleted === 0 && row.value !== null) out.set(key, { version: row.version, encoded: row.value })
    }
    return out
  }

  async close(): Promise<void> {
    this.db.close()
  }
}

function merged(row: Row | undefined, op: StoreMergeOp): string | StoreError {
  if (row === undefined || row.deleted !== 0 || row.value === null) return JSON.stringify(op.operand)
  const stored: unknown = JSON.parse(row.value)
  if (typeof stored !== 'number') return new StoreError(`not a number under ${op.key}`, { retryable: false, scope: 'op' })
  return JSON.stringify(op.merge === 'sum' ? stored + op.operand : op.merge === 'max' ? Math.max(stored, op.operand) : Math.min(stored, op.operand))
}
