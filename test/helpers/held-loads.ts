/** A MemoryStore whose `load` calls can be held until the test lets them through, and counted. */
import type { LoadedEntry } from '../../src/contracts/store.js'
import { MemoryStore } from '../../src/stores/memory-store.js'
import { setOp } from '../../src/testing/index.js'

export class HeldLoadStore extends MemoryStore {
  /** `load` calls so far. */
  loadCalls = 0
  /** While true, `load` waits for `releaseLoads()`. */
  holding = false
  private held: Array<() => void> = []

  override async load(keys: readonly string[]): Promise<Map<string, LoadedEntry>> {
    this.loadCalls++
    if (this.holding) await new Promise<void>((resolve) => this.held.push(resolve))
    return super.load(keys)
  }

  /** Loads waiting now. */
  get heldLoads(): number {
    return this.held.length
  }

  /** Lets every held load through and stops holding. */
  releaseLoads(): void {
    this.holding = false
    for (const go of this.held.splice(0)) go()
  }

  /** Writes `value` straight into the store (as another writer would), at `version`. */
  async seed(key: string, value: unknown, version = 1): Promise<void> {
    await this.writeBatch([setOp(key, version, value)])
  }
}
