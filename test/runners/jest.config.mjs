// Jest on test/runners/conformance.jest.mjs alone, as native ESM: no transform, run with
// NODE_OPTIONS=--experimental-vm-modules (the rest of the tests run under node:test).
export default {
  rootDir: import.meta.dirname,
  testMatch: ['<rootDir>/conformance.jest.mjs'],
  testEnvironment: 'node',
  transform: {},
  testTimeout: 30_000,
}
