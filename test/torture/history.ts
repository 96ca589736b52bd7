/**
 * What the app processes recorded, per level: the acknowledged writes and the ones reported not
 * confirmed, each as (key index, version) in the simulator's ledger (`AckLedger`: an entry is lost
 * when its key's stored version is below it), the failed ones counted by error code, and the value
 * each recorded version carried (to check that a stored version holds the value written with it).
 */
import { AckLedger } from '../../src/cli/sim/ack-ledger.js'
import type { Durability } from '../../src/contracts/options.js'
import type { WriteRecord } from './protocol.js'

export class LevelHistory {
  readonly acked = new AckLedger()
  readonly notConfirmed = new AckLedger()
  readonly failed = new Map<string, number>()
  /** One more than the highest key index written (any outcome). */
  keyCount = 0
  /** Writes that settled only when the cache was closed under them (protocol.ts, `hung`). */
  hung = 0
  /** `<key>:<version>` → the value written (null: a delete), for writes acknowledged or not confirmed. */
  readonly values = new Map<string, string | null>()

  get failedCount(): number {
    let n = 0
    for (const count of this.failed.values()) n += count
    return n
  }
}

export class History {
  private readonly levels = new Map<Durability, LevelHistory>()

  constructor(readonly names: readonly Durability[]) {
    for (const level of names) this.levels.set(level, new LevelHistory())
  }

  level(level: Durability): LevelHistory {
    const found = this.levels.get(level)
    if (found === undefined) throw new Error(`no history for level ${level}`)
    return found
  }

  record(write: WriteRecord, at = Date.now()): void {
    const history = this.level(write.level)
    if (write.hung === true) history.hung++
    history.keyCount = Math.max(history.keyCount, write.key + 1)
    if (write.outcome === 'failed') {
      const code = write.code ?? 'unknown'
      history.failed.set(code, (history.failed.get(code) ?? 0) + 1)
      return
    }
    const ledger = write.outcome === 'ok' ? history.acked : history.notConfirmed
    ledger.add(Uint32Array.of(write.key), Float64Array.of(write.version), at)
    history.values.set(`${write.key}:${write.version}`, write.value)
  }
}
