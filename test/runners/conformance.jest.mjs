// The Store conformance suite under Jest, as native ESM (no transform):
// `NODE_OPTIONS=--experimental-vm-modules npx jest --config test/runners/jest.config.mjs` (after `npm run build`).
import { describe, it } from '@jest/globals'
import { describeStores } from './stores.mjs'

describeStores({ describe, it })
