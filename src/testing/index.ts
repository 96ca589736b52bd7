/** `writebehind/testing`: the Store conformance suite and the fake clock, for your own tests. */
export { type ConformanceOptions, describeStoreConformance, setOp, deleteOp, loadedValue, type StoreFactory } from './store-conformance.js'
export { FakeClock, settle } from './fake-clock.js'
export { seededRandom } from './seeded-random.js'
