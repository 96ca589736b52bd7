// The conformance suite's mapped table (player:<n> → scores), as a TableMapping the SQL stores share.
import type { TableMapping } from '../../src/stores/sql/table-mapping.js'

export function leaderboard(name: string): TableMapping {
  return {
    name,
    key: 'player_id',
    keyToColumns: (key) => {
      const m = /^player:(\d+)$/.exec(key)
      if (m === null) throw new TypeError(`not a player key: ${key}`)
      return [Number(m[1])]
    },
    columnsToKey: (row) => `player:${String(row.player_id)}`,
    columns: { score: (value) => (value as { score: number }).score },
    version: 'version',
    updatedAt: 'updated_at',
    fromRow: (row) => ({ score: row.score }),
  }
}

/** Text that is not JSON, for a JSON value column to refuse. */
export const notJson = (version: number) => ({ kind: 'set', key: 'poison:json', version, value: undefined, encoded: '{not json' }) as const

/** The same table as a counter: `score` is the counter column, a key's value is its score. */
export function counterBoard(name: string): TableMapping {
  const { keyToColumns, columnsToKey } = leaderboard(name)
  return { name, key: 'player_id', keyToColumns, columnsToKey, counter: 'score', version: 'version', updatedAt: 'updated_at' }
}
