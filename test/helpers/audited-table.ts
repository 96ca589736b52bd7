/**
 * A store table whose every update is recorded by a trigger: (key, old version, new version). Any
 * row with `new_version < old_version` is a stale overwrite (a version went down), whoever wrote it.
 * Used by the multi-process Redis tests and the fault harness (test/torture/).
 */
import type pg from 'pg'
import { PostgresStore } from '../../src/stores/sql/postgres/index.js'

/** A queryable connection: a pg Pool or Client. */
type Queryable = Pick<pg.Pool, 'query'>

/** Creates the store's table `table` and `<table>_audit`, filled by a BEFORE UPDATE trigger. */
export async function createAuditedTable(pool: pg.Pool, table: string): Promise<void> {
  await new PostgresStore({ pool, table }).init()
  await pool.query(`CREATE TABLE ${table}_audit (key text, old_version bigint, new_version bigint)`)
  await pool.query(`CREATE FUNCTION ${table}_audit_fn() RETURNS trigger AS $$ BEGIN INSERT INTO ${table}_audit VALUES (NEW.key, OLD.version, NEW.version); RETURN NEW; END $$ LANGUAGE plpgsql`)
  await pool.query(`CREATE TRIGGER ${table}_audit_tr BEFORE UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_audit_fn()`)
}

/** One recorded update. */
export interface AuditRow {
  readonly key: string
  readonly oldVersion: number
  readonly newVersion: number
}

/** Every update the trigger recorded, in no particular order. */
export async function auditRows(db: Queryable, table: string): Promise<AuditRow[]> {
  const { rows } = await db.query<{ key: string; old_version: string; new_version: string }>(`SELECT key, old_version, new_version FROM ${table}_audit`)
  return rows.map((r) => ({ key: r.key, oldVersion: Number(r.old_version), newVersion: Number(r.new_version) }))
}

/** A row of the store's table. */
export interface StoredRow {
  readonly value: unknown
  readonly version: number
  readonly deleted: boolean
}

export async function storeRows(db: Queryable, table: string): Promise<Map<string, StoredRow>> {
  const { rows } = await db.query<{ key: string; value: unknown; version: string; deleted: boolean }>(`SELECT key, value, version, deleted FROM ${table}`)
  return new Map(rows.map((r) => [r.key, { value: r.value, version: Number(r.version), deleted: r.deleted }]))
}

/** Drops the table and its audit (the trigger function goes with `CASCADE` on the table's drop). */
export async function dropAuditedTable(db: Queryable, table: string): Promise<void> {
  await db.query(`DROP TABLE IF EXISTS ${table}; DROP TABLE IF EXISTS ${table}_audit; DROP FUNCTION IF EXISTS ${table}_audit_fn() CASCADE`)
}
