/** The seeded PRNG the tests share (it lives in writebehind/testing). */
export { seededRandom } from '../../src/testing/seeded-random.js'
