/**
 * SQL identifiers (table and column names) are never bound parameters, so they are validated
 * against a strict pattern at the door and then quoted by the dialect. Values never go through
 * here: they are always bound.
 */
import { invalid } from '../../validate/check.js'

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

/**
 * Checks one identifier (a column, or one part of a table name) and returns it.
 * @throws InvalidOptionError naming `option` when the name is not letters, digits and underscores (≤ 63).
 */
export function validateIdentifier(name: unknown, option: string): string {
  if (typeof name !== 'string' || !IDENTIFIER.test(name)) {
    throw invalid(option, 'an SQL identifier (a letter or _ then letters, digits or _, at most 63 characters)', name)
  }
  return name
}

/**
 * Checks a table name, `table` or `schema.table`, and returns its parts.
 * @throws InvalidOptionError naming `option` when a part is not a valid identifier.
 */
export function validateTableName(name: unknown, option: string): readonly string[] {
  if (typeof name !== 'string') return [validateIdentifier(name, option)]
  const parts = name.split('.')
  if (parts.length > 2) {
    throw invalid(option, '"table" or "schema.table"', name)
  }
  return parts.map((part) => validateIdentifier(part, option))
}

/** Quotes identifiers with `quoteChar`, doubling it inside (already excluded by validation). */
export function quoteWith(quoteChar: string): (name: string) => string {
  return (name) => quoteChar + name.split(quoteChar).join(quoteChar + quoteChar) + quoteChar
}
