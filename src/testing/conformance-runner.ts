/**
 * How the conformance suite registers its cases with the caller's test runner (node:test, Vitest,
 * Jest: it uses only `describe`, `it` and `it.skip`), and how a case is skipped with a reason.
 */
import assert from 'node:assert/strict'
import type { MergeKind, Store } from '../contracts/store.js'

/**
 * A case body as the suite hands it to `it`. It declares no parameter (Jest would take one for a
 * `done` callback); node:test and Vitest pass their test context first, which is how a running case
 * skips itself.
 */
export type RunnerCase = (...context: unknown[]) => Promise<void>

/** The runner's `it` (or `test`): node:test's, Vitest's and Jest's all fit. */
export interface RunnerIt {
  (name: string, fn: RunnerCase): unknown
  skip(name: string, fn: RunnerCase): unknown
}

/** The test runner to register the cases with: `{ describe, it }` from node:test, vitest or @jest/globals. */
export interface ConformanceRunner {
  readonly describe: (name: string, fn: () => void) => unknown
  readonly it: RunnerIt
}

/** The optional Store methods; the cases for one a store lacks are reported as skipped. */
export type OptionalMethod = 'ping' | 'check' | 'highestVersion' | 'close'

/** What the store lacks, as declared in the options (`false`), or must have (`true`). */
export interface Declared extends Partial<Record<OptionalMethod, boolean>> {
  /** The merge kinds the store applies; left out, the suite reads the store's `merges` while a case runs. */
  readonly merges?: readonly MergeKind[]
}

export interface CaseOptions {
  /** The optional method the case exercises: skipped, with the reason, for a store without it. */
  readonly needs?: OptionalMethod
  /** Why the case is skipped, known when it is registered (an option said the store does not claim it). */
  readonly skip?: string | undefined
  /** The merge kinds the case exercises: skipped, with the reason, for a store that does not list them all. */
  readonly merges?: readonly MergeKind[]
}

/** Registers one case: `title`, run on a fresh store from the factory, cleaned up pass or fail. */
export type CaseOf<T> = (title: string, body: (made: T) => Promise<void>, options?: CaseOptions) => void

/** A case on a bare store. */
export type Case = CaseOf<Store>

/**
 * Builds the registrar of cases on what `factory` makes. A case whose method the options declare
 * absent is registered with `it.skip`; one whose method turns out absent while it runs skips itself
 * through the runner's test context (node:test's `t.skip()`, Vitest's `context.skip()`).
 */
export function caseRegistrar<T extends { store: Store; cleanup?: () => Promise<void> }>(runner: ConformanceRunner, factory: () => Promise<T>, declared: Declared): CaseOf<T> {
  return (title, body, { needs, skip, merges = [] } = {}) => {
    const undeclared = declared.merges === undefined ? [] : merges.filter((kind) => !(declared.merges as readonly MergeKind[]).includes(kind))
    const reason =
      skip ??
      (needs !== undefined && declared[needs] === false ? `the options say the store has no ${needs}()` : undefined) ??
      (undeclared.length > 0 ? `the options say the store applies no ${undeclared.join(', ')} merge ops` : undefined)
    if (reason !== undefined) {
      runner.it.skip(`${title} (skipped: ${reason})`, async () => undefined)
      return
    }
    runner.it(title, async (...context) => {
      const made = await factory()
      try {
        if (needs !== undefined && made.store[needs] === undefined) {
          assert.notEqual(declared[needs], true, `the options say the store has ${needs}(), but it has none`)
          skipRunning(context[0], `the store has no ${needs}()`)
          return
        }
        const unlisted = merges.filter((kind) => !(made.store.merges ?? []).includes(kind))
        if (unlisted.length > 0) {
          assert.equal(declared.merges, undefined, `the options say the store applies ${unlisted.join(', ')} merge ops, but its merges list lacks them`)
          skipRunning(context[0], `the store lists no ${unlisted.join(', ')} merges (store.merges)`)
          return
        }
        await body(made)
      } finally {
        await made.cleanup?.()
      }
    })
  }
}

/** Marks the running case skipped; a runner that cannot (Jest) fails it with what to declare instead. */
function skipRunning(context: unknown, reason: string): void {
  const skip = (context as { skip?: unknown } | undefined)?.skip
  if (typeof skip === 'function') {
    ;(skip as (note: string) => void).call(context, reason)
    return
  }
  assert.fail(
    `${reason}, and this runner cannot skip a running case (Jest cannot): declare it in describeStoreConformance's options (e.g. { ping: false } or { merges: [] }) so the case is registered as skipped`,
  )
}
