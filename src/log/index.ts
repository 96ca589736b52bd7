/** The durable dirty log: see dirty-log.ts for group commit and recovery.ts for what open() repairs. */
export { DirtyLog } from './dirty-log.js'
export type { DirtyLogOptions, LogEvent, LogRecord, LogStats, Recovered, Truncation } from './types.js'
