/**
 * The simulator's loss, counted apart from its own code: the ledger of acknowledged writes it
 * saved (`[key index, seq]` float64 pairs) against the sequence number in each row of the run's
 * store (SQLite file or PostgreSQL table). An acknowledged write is lost when its key's row holds an older one, or none.
 */
import { readFileSync } from 'node:fs'
import Database from 'better-sqlite3'
import pg from 'pg'
import { PG_URL } from './store-servers.js'

interface Checked {
  readonly ledger: string
  readonly db: string
  readonly settings: { readonly store: 'sqlite' | 'postgres' }
}

/** Sequence number per key, as the store's rows hold it. */
async function heldSeqs(result: Checked): Promise<Map<string, number>> {
  const held = new Map<string, number>()
  if (result.settings.store === 'postgres') {
    const client = new pg.Client({ connectionString: PG_URL })
    await client.connect()
    try {
      const { rows } = await client.query<{ key: string; value: { seq: number } }>(`SELECT key, value FROM "${result.db}" WHERE NOT deleted`)
      for (const row of rows) held.set(row.key, row.value.seq)
    } finally {
      await client.end()
    }
    return held
  }
  const db = new Database(result.db, { readonly: true })
  try {
    for (const row of db.prepare('SELECT key, value FROM writebehind_sim WHERE deleted = 0').all() as Array<{ key: string; value: string }>) {
      held.set(row.key, (JSON.parse(row.value) as { seq: number }).seq)
    }
  } finally {
    db.close()
  }
  return held
}

export async function independentLoss(result: Checked): Promise<number> {
  const bytes = readFileSync(result.ledger)
  const pairs = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8)
  const held = await heldSeqs(result)
  let lost = 0
  for (let i = 0; i < pairs.length; i += 2) if ((pairs[i + 1] as number) > (held.get(`k:${pairs[i] as number}`) ?? 0)) lost++
  return lost
}
