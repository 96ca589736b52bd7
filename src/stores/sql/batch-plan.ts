/**
 * How the SQL core orders a batch into rows, round by round, and reads back what did not apply.
 * No SQL here: the statements are statements.ts's, the driver calls sql-store.ts's.
 *
 * A batch may hold one key more than once. For sets and deletes the highest version alone decides
 * the outcome under fencing, but a merge op depends on what it lands on: a key's ops from its last
 * set or delete on are all kept, in version order, and applied in ROUNDS, the k-th op of every key
 * in the k-th round (one statement per chunk never touches a key twice), each fenced on its own.
 * A set or delete is always a key's first kept op, so it lands in the first round.
 */
import type { OpFailure, StoreDeleteOp, StoreMergeOp, StoreOp, StoreSetOp, SupersededOp } from '../../contracts/store.js'
import { StoreError } from '../../errors.js'
import type { PreparedRow } from './sql-dialect.js'
import type { ResolvedTable } from './table-mapping.js'

/** The indices of the ops to apply, round by round; each key appears at most once per round. */
export function rounds(ops: readonly StoreOp[]): number[][] {
  if (ops.length === 0) return []
  // Most batches hold each key once (the tiers coalesce): one round, without a list per key.
  const seen = new Set<string>()
  for (const op of ops) seen.add(op.key)
  if (seen.size === ops.length) {
    const all = new Array<number>(ops.length)
    for (let index = 0; index < ops.length; index++) all[index] = index
    return [all]
  }
  const byKey = new Map<string, number[]>()
  for (let index = 0; index < ops.length; index++) {
    const key = (ops[index] as StoreOp).key
    const held = byKey.get(key)
    if (held === undefined) byKey.set(key, [index])
    else held.push(index)
  }
  const out: number[][] = []
  for (const indices of byKey.values()) {
    kept(ops, indices).forEach((index, round) => (out[round] ??= []).push(index))
  }
  return out
}

/** A key's ops from its last set or delete on (the last one on a tie), ordered by version. */
function kept(ops: readonly StoreOp[], indices: number[]): number[] {
  if (indices.length === 1) return indices
  const sorted = [...indices].sort((a, b) => (ops[a] as StoreOp).version - (ops[b] as StoreOp).version || a - b)
  let from = 0
  sorted.forEach((index, i) => {
    if ((ops[index] as StoreOp).kind !== 'merge') from = i
  })
  return sorted.slice(from)
}

/** What the read-back after a batch tells about the ops whose statements left rows untouched. */
export interface Settled {
  /** Ops of keys the store holds at a version above every op of that key in the batch. */
  readonly superseded: readonly SupersededOp[]
  /** Indices of merge ops newer than the stored version that did not apply: the stored value is not a number. */
  readonly notNumbers: readonly number[]
}

/**
 * Sorts the ops of the `suspects` keys (keys whose statements left some row untouched) by the
 * versions the store holds after the batch (`stored`, absent for a key without a row):
 * - held above every op of the key in the batch: every op of it was fenced by news, superseded. An
 *   older duplicate overwritten by the batch's own newer op, or a redelivery (equal version), is not.
 * - a merge op newer than what is held: it was not fenced, so it was refused because the stored
 *   value is not a number. Sets and deletes are never refused that way, so they are never listed.
 */
export function settle(ops: readonly StoreOp[], suspects: ReadonlySet<string>, stored: ReadonlyMap<string, number>): Settled {
  const newest = new Map<string, number>()
  for (const op of ops) if (suspects.has(op.key)) newest.set(op.key, Math.max(op.version, newest.get(op.key) ?? 0))
  const superseded: SupersededOp[] = []
  const notNumbers: number[] = []
  ops.forEach((op, index) => {
    const held = suspects.has(op.key) ? stored.get(op.key) : undefined
    if (held === undefined) return
    if (held > (newest.get(op.key) as number)) superseded.push({ index, version: held })
    else if (op.kind === 'merge' && op.version > held) notNumbers.push(index)
  })
  return { superseded, notNumbers }
}

/**
 * The batch's rows, round by round (`rounds`), mapped onto the table, and the ops that cannot be:
 * every op of a key with an op the mapping rejects fails (`E_STORE_MAPPING`), as does every op of
 * a key with a merge op the table does not take. `store` names the store in that message.
 */
export function prepareRounds(ops: readonly StoreOp[], table: ResolvedTable, bool: (value: boolean) => unknown, store: string): { rounds: PreparedRow[][]; failures: OpFailure[] } {
  const failed = new Map<string, Error>()
  const mapped = rounds(ops).map((round) => {
    const prepared: PreparedRow[] = []
    for (const index of round) {
      const op = ops[index] as StoreOp
      try {
        prepared.push(op.kind === 'merge' ? mergeRow(op, index, table, bool, store) : row(op, index, table, bool))
      } catch (error) {
        failed.set(op.key, error instanceof StoreError ? error : mappingError(op, error))
      }
    }
    return prepared
  })
  if (failed.size === 0) return { rounds: mapped, failures: [] }
  const failures: OpFailure[] = []
  ops.forEach((op, index) => {
    const error = failed.get(op.key)
    if (error !== undefined) failures.push({ index, error })
  })
  return { rounds: mapped.map((round) => round.filter((prepared) => !failed.has(prepared.key))), failures }
}

function row(op: StoreSetOp | StoreDeleteOp, index: number, table: ResolvedTable, bool: (value: boolean) => unknown): PreparedRow {
  checkVersion(op)
  const values = table.rowValues(op, bool)
  const bytes = 64 + op.key.length * 3 + (op.kind === 'delete' ? 0 : op.encoded.length * 3)
  return { index, key: op.key, version: op.version, deleted: op.kind === 'delete', values, bytes }
}

function mergeRow(op: StoreMergeOp, index: number, table: ResolvedTable, bool: (value: boolean) => unknown, store: string): PreparedRow {
  if (!table.merges.includes(op.merge)) {
    throw new StoreError(`${store} does not apply "${op.merge}" merge ops on this table (a table mapping needs a counter column, table.counter); the cache should not have sent one`, {
      retryable: false,
      scope: 'op',
    })
  }
  checkVersion(op)
  if (typeof op.operand !== 'number' || !Number.isFinite(op.operand)) throw new TypeError(`operand must be a finite number; got ${String(op.operand)}`)
  const values = table.mergeValues(op, bool)
  return { index, key: op.key, version: op.version, deleted: false, merge: op.merge, values, bytes: 96 + op.key.length * 3 }
}

function checkVersion(op: StoreOp): void {
  if (!Number.isSafeInteger(op.version) || op.version <= 0) throw new TypeError(`version must be a positive safe integer; got ${op.version}`)
}

/** A merge op the store left untouched because the value it holds for the key is not a number. */
export function notANumber(op: StoreMergeOp): StoreError {
  return new StoreError(
    `Cannot apply the ${op.merge} op to "${op.key}" (version ${op.version}): the value the store holds for the key is not a number. ` +
      'Counters and maxima need a number (or no value) in the store: set the key to a number, or delete it, then replay the op.',
    { retryable: false, scope: 'op', code: 'E_STORE_NOT_A_NUMBER' },
  )
}

function mappingError(op: StoreOp, cause: unknown): StoreError {
  const reason = cause instanceof Error ? cause.message : String(cause)
  return new StoreError(`Cannot map the write to "${op.key}" (version ${op.version}) onto the table: ${reason}. Fix the value or the table mapping.`, {
    retryable: false,
    cause,
    code: 'E_STORE_MAPPING',
  })
}
