// The Store conformance suite under node:test: `node --test test/runners/conformance.node.mjs` (after `npm run build`).
import { describe, it } from 'node:test'
import { describeStores } from './stores.mjs'

describeStores({ describe, it })
