/** `writebehind/testing`: the Store conformance suite and the fake clock, for your own tests. */
export { type ConformanceOptions, describeStoreConformance, setOp, deleteOp, mergeOp, loadedValue, type StoreFactory } from './store-conformance.js'
export type { ConformanceRunner, OptionalMethod, RunnerCase, RunnerIt } from './conformance-runner.js'
export type { MappedCounterStoreFactory, MappedStoreFactory, MappedStoreUnderTest } from './conformance-mapped.js'
export { FakeClock, settle } from './fake-clock.js'
export { seededRandom } from './seeded-random.js'
