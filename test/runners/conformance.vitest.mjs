// The Store conformance suite under Vitest: `npx vitest run --config test/runners/vitest.config.mjs` (after `npm run build`).
import { describe, it } from 'vitest'
import { describeStores } from './stores.mjs'

describeStores({ describe, it })
