// A deliberately broken Store for the conformance-runner test: it wraps a real store and drops its
// version fence, so the last batch delivered wins (`set v2; replay v1` ends at v1). Every op reaches
// the inner store under a fresh, ever higher version, and `load()` reports the version the op had.
// The conformance suite must FAIL on it under each runner; that proves the runner ran the assertions.
// Plain JavaScript, so Jest (which runs the built package, no TypeScript transform) can import it.

/** @typedef {import('../../src/contracts/store.js').Store} Store */

/** @implements {Store} */
export class FencelessStore {
  /** @param {Store} inner */
  constructor(inner) {
    this.inner = inner
    this.merges = inner.merges
    /** @type {Map<string, number>} the version each key's last delivered op carried */
    this.versions = new Map()
    this.next = 1e12
  }

  /** @param {readonly import('../../src/contracts/store.js').StoreOp[]} ops */
  async writeBatch(ops) {
    const result = await this.inner.writeBatch(ops.map((op) => ({ ...op, version: this.next++ })))
    for (const op of ops) this.versions.set(op.key, op.version)
    return result
  }

  /** @param {readonly string[]} keys */
  async load(keys) {
    const loaded = await this.inner.load(keys)
    return new Map([...loaded].map(([key, entry]) => [key, { ...entry, version: this.versions.get(key) ?? 0 }]))
  }

  async ping() {
    await this.inner.ping?.()
  }

  async check() {
    await this.inner.check?.()
  }

  async highestVersion() {
    return Math.max(0, ...this.versions.values())
  }

  async close() {
    await this.inner.close?.()
  }
}
