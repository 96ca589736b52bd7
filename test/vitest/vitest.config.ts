// Runs the Store conformance suite under Vitest, to prove it is not tied to node:test:
// `npx vitest run --config test/vitest/vitest.config.ts` (needs the dev dependency vitest@^3).
export default {
  test: { include: ['test/vitest/**/*.vitest.ts'], globals: true, testTimeout: 30_000 },
}
