/**
 * PostgreSQL's SQL for the core: `ON CONFLICT ... DO UPDATE ... WHERE t.version < EXCLUDED.version`,
 * a jsonb default table, fenced counts from rowCount, SQLSTATE-based retry classification, the
 * UNNEST fast path (four array parameters whatever the batch size) for the built-in table, and
 * merge ops on jsonb numbers (sums in float8, as JavaScript adds) or on a counter column's own type.
 */
import type { ChunkLimits, NumberSql, PreparedRow, SqlDialect, Statement } from '../sql-dialect.js'
import { chunk } from '../statements.js'
import { classifyPostgres } from '../error-classes.js'
import { quoteWith } from '../identifiers.js'
import { onConflict, onConflictMergeUpsert, onConflictUpsert, UPSERT_ALIAS } from '../on-conflict.js'
import type { ResolvedTable } from '../table-mapping.js'

/** How the built-in table's batches are sent: UNNEST arrays, or multi-row VALUES. */
export type PostgresBatchPath = 'unnest' | 'values'

const quote = quoteWith('"')

/** The PostgreSQL dialect; `batchPath` picks the built-in table's upsert form. */
export function postgresDialect(batchPath: PostgresBatchPath): SqlDialect {
  return {
    label: 'PostgreSQL',
    maxParams: 65_535,
    quote,
    placeholder: (n) => `$${n}`,
    bool: (value) => value,
    now: 'now()',
    createTable,
    upsert: onConflictUpsert(quote),
    mergeUpsert: onConflictMergeUpsert(quote, numbers),
    valueAsText: (column) => `${column}::text`,
    olderThan: (column, n) => `${column} < now() - ($${n}::float8 * interval '1 millisecond')`,
    fenced: (result, rows) => Math.max(0, rows - result.rowCount),
    classify: classifyPostgres,
    fastUpsert: (name, table, rows, limits) => (batchPath === 'unnest' && table.builtIn ? unnestUpsert(name, table, rows, limits) : undefined),
  }
}

const BY_KIND = { max: 'GREATEST', min: 'LEAST' } as const

/**
 * jsonb numbers: a sum goes through float8 (what JavaScript's `+` gives; integers exact up to
 * 2^53), max and min compare the jsonb numbers and keep the winner as it is. A counter column
 * combines in its own type.
 */
const numbers: NumberSql = {
  isNumber: (column, builtIn) => (builtIn ? `jsonb_typeof(${column}) = 'number'` : `${column} IS NOT NULL`),
  combine: (kind, stored, incoming, builtIn) => {
    if (kind !== 'sum') return `${BY_KIND[kind]}(${stored}, ${incoming})`
    return builtIn ? `to_jsonb(${stored}::float8 + ${incoming}::float8)` : `${stored} + ${incoming}`
  },
}

function createTable(name: string, table: ResolvedTable): string[] {
  const index = quote(`${(table.nameParts.at(-1) as string).slice(0, 48)}_tombstones`)
  return [
    `CREATE TABLE IF NOT EXISTS ${name} (` +
      '"key" text PRIMARY KEY, "value" jsonb, "version" bigint NOT NULL, ' +
      '"deleted" boolean NOT NULL DEFAULT false, "updated_at" timestamptz NOT NULL DEFAULT now())',
    `CREATE INDEX IF NOT EXISTS ${index} ON ${name} ("updated_at") WHERE "deleted"`,
  ]
}

/** The built-in table's upsert as four arrays: one statement text, whatever the batch size. */
function unnestUpsert(name: string, table: ResolvedTable, rows: readonly PreparedRow[], limits: ChunkLimits): Statement[] {
  const columns = ['"key"', '"value"', '"version"', '"deleted"', '"updated_at"']
  const text =
    `INSERT INTO ${name} AS ${UPSERT_ALIAS} (${columns.join(', ')}) ` +
    'SELECT k, v, n, d, now() FROM unnest($1::text[], $2::jsonb[], $3::bigint[], $4::boolean[]) AS u(k, v, n, d) ' +
    onConflict(table, columns, quote)
  return chunk(rows, limits, 0, Infinity).map((part) => {
    const keys: unknown[] = []
    const values: unknown[] = []
    const versions: number[] = []
    const deleted: boolean[] = []
    for (const row of part) {
      keys.push(row.values[0])
      values.push(row.values[1])
      versions.push(row.version)
      deleted.push(row.deleted)
    }
    return {
      text,
      params: [textArray(keys), textArray(values), `{${versions.join(',')}}`, `{${deleted.map((d) => (d ? 't' : 'f')).join(',')}}`],
      rows: part.length,
      fencedUpsert: true,
      batchRows: part,
    }
  })
}

/**
 * An array of strings (or nulls) as PostgreSQL's array literal, `{"a","b\"c",NULL}`: what `pg`
 * would send, without its general serializer (a flush spends more time there than on anything else
 * it does per row). `JSON.stringify` writes it in one native pass: inside double quotes both escape
 * `"` and `\` with a backslash, and `null` is NULL to PostgreSQL (any case). JSON's other escapes
 * (`\b \f \n \r \t \uXXXX`: control characters, lone surrogates) would read differently in an array
 * literal, so a batch with any of them (or a lookalike: an escaped `\` before one of those letters)
 * takes the per-element way. Anything but strings and nulls is left to `pg`.
 */
function textArray(items: readonly unknown[]): string | readonly unknown[] {
  for (const item of items) if (item !== null && typeof item !== 'string') return items
  const json = JSON.stringify(items)
  if (!JSON_ESCAPE.test(json)) return `{${json.slice(1, -1)}}`
  let out = '{'
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as string | null
    if (i > 0) out += ','
    out += item === null ? 'NULL' : `"${item.replace(QUOTED, '\\$&')}"`
  }
  return `${out}}`
}

/** One of JSON's escapes that an array literal reads differently (or a false alarm after an escaped `\`). */
const JSON_ESCAPE = /\\[bfnrtu]/

/** What must be escaped inside a double-quoted array element. */
const QUOTED = /["\\]/g

/** True when a retry can help: the failure hits the whole store (see error-classes.ts). */
export function isRetryable(error: unknown): boolean {
  return classifyPostgres(error).scope === 'store'
}
