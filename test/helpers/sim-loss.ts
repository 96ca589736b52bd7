/**
 * The simulator's loss, counted apart from its own code: the ledger of acknowledged writes it
 * saved (`[key index, seq]` float64 pairs) against the sequence number in each row of the run's
 * SQLite store. An acknowledged write is lost when its key's row holds an older one, or none.
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import Database from 'better-sqlite3'

export function independentLoss(result: { readonly ledger: string }): number {
  const bytes = readFileSync(result.ledger)
  const pairs = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8)
  const db = new Database(join(dirname(result.ledger), 'store.db'), { readonly: true })
  const held = new Map<string, number>()
  try {
    for (const row of db.prepare('SELECT key, value FROM writebehind_sim WHERE deleted = 0').all() as Array<{ key: string; value: string }>) {
      held.set(row.key, (JSON.parse(row.value) as { seq: number }).seq)
    }
  } finally {
    db.close()
  }
  let lost = 0
  for (let i = 0; i < pairs.length; i += 2) if ((pairs[i + 1] as number) > (held.get(`k:${pairs[i] as number}`) ?? 0)) lost++
  return lost
}
