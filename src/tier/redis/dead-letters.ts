/**
 * The dead letters of a Redis tier, in its shard streams (`{wb:<name>:<s>}:dlq`, layout.ts): read
 * them as `DeadLetter`s, drop them, or put them back in the dirty set at their original version
 * (what `replayDeadLetters` does before it flushes). Reading uses plain `XRANGE`s (no script, no
 * write; callers filter them with `deadLetterMatcher`); dropping and requeueing are one atomic
 * script per shard and chunk (`letter-scripts.ts`), each checking the entry's version, so a newer
 * write of a key always wins.
 */
import type { DeadLetter } from '../../contracts/dead-letters.js'
import type { RedisClientPort } from './client-port.js'
import type { RedisLayout } from './layout.js'
import { chunks } from './outcomes.js'
import { DROP_LETTERS, REQUEUE_LETTERS } from './letter-scripts.js'

/** A dead letter as kept in Redis: which shard's stream, and its entry id there. */
export interface RedisDeadLetter extends DeadLetter {
  readonly shard: number
  readonly id: string
}

/** A letter put back in the dirty set, at its original version. */
export interface Requeued {
  readonly key: string
  readonly version: number
}

/** Every letter of every shard, oldest first within a shard. Read-only. */
export async function readLetters(port: RedisClientPort, layout: RedisLayout): Promise<RedisDeadLetter[]> {
  const replies = await Promise.all(Array.from({ length: layout.shards }, (_, shard) => port.read('XRANGE', layout.dlq(shard), '-', '+')))
  return replies.flatMap((reply, shard) => (reply as Array<[string, string[]]>).map(([id, flat]) => toLetter(shard, id, flat)))
}

/**
 * Removes `letters` from their streams. An entry still marked dead at the letter's version is
 * removed too, so the next read loads the store's row instead of serving a write that was given up.
 * Resolves with how many letters were removed (a letter already gone is not counted).
 */
export async function dropLetters(port: RedisClientPort, layout: RedisLayout, letters: readonly RedisDeadLetter[]): Promise<number> {
  const counts = await Promise.all(
    perShard(letters).map(([shard, chunk]) =>
      port.run({
        script: DROP_LETTERS,
        keys: [layout.dlq(shard), ...chunk.map((l) => layout.entry(shard, l.key))],
        args: chunk.flatMap((l) => [l.id, String(l.version)]),
      }),
    ),
  )
  return counts.reduce<number>((sum, n) => sum + Number(n), 0)
}

/**
 * Puts `letters` back in the dirty set at their original versions and removes them from the
 * streams; a letter whose key holds a newer version in Redis is only removed (superseded).
 */
export async function requeueLetters(port: RedisClientPort, layout: RedisLayout, letters: readonly RedisDeadLetter[]): Promise<{ requeued: Requeued[]; superseded: number }> {
  const requeued: Requeued[] = []
  let superseded = 0
  await Promise.all(
    perShard(letters).map(async ([shard, chunk]) => {
      const codes = (await port.run({
        script: REQUEUE_LETTERS,
        keys: [layout.dlq(shard), layout.dirty(shard), layout.vers(shard), ...chunk.map((l) => layout.entry(shard, l.key))],
        args: chunk.flatMap((l) => [l.id, l.key, String(l.version), l.kind === 'delete' ? '1' : '0', l.encoded ?? '']),
      })) as number[]
      chunk.forEach((letter, i) => {
        if (codes[i] === 1) requeued.push({ key: letter.key, version: letter.version })
        else if (codes[i] === 0) superseded++
      })
    }),
  )
  return { requeued, superseded }
}

function perShard(letters: readonly RedisDeadLetter[]): Array<[number, RedisDeadLetter[]]> {
  const groups = new Map<number, RedisDeadLetter[]>()
  for (const letter of letters) {
    const group = groups.get(letter.shard)
    if (group === undefined) groups.set(letter.shard, [letter])
    else group.push(letter)
  }
  return [...groups].flatMap(([shard, group]) => chunks(group).map((chunk) => [shard, chunk] as [number, RedisDeadLetter[]]))
}

function toLetter(shard: number, id: string, flat: readonly string[]): RedisDeadLetter {
  const fields = new Map<string, string>()
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i] as string, flat[i + 1] as string)
  const deleted = fields.get('del') === '1'
  const at = Number(fields.get('at') ?? Number(id.split('-')[0]))
  const text = fields.get('error') ?? ''
  const colon = text.indexOf(': ')
  return {
    shard,
    id,
    key: fields.get('key') ?? '',
    version: Number(fields.get('version')),
    kind: deleted ? 'delete' : 'set',
    encoded: deleted ? null : (fields.get('payload') ?? ''),
    // The stream keeps the error as "Name: message" (outcomes.ts).
    error: colon > 0 ? { name: text.slice(0, colon), message: text.slice(colon + 2), retryable: false } : { name: 'Error', message: text, retryable: false },
    attempts: Number(fields.get('attempts') ?? 0),
    firstFailedAt: Number(fields.get('first') ?? 0) || at,
    lastFailedAt: at,
  }
}
