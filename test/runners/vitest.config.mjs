// Vitest on test/runners/conformance.vitest.mjs alone (the rest of the tests run under node:test).
export default {
  test: { root: import.meta.dirname, include: ['conformance.vitest.mjs'], testTimeout: 30_000 },
}
