/**
 * A cache's flush circuit (flush/circuit.ts), built from its `retry` options, reporting each
 * change on the circuit channel and as the `circuit:open` / `circuit:close` events. Both engines
 * (embedded and remote) build theirs here.
 */
import type { CacheEvents } from '../contracts/events.js'
import type { Diagnostics } from '../diagnostics/channels.js'
import { CircuitBreaker } from '../flush/circuit.js'
import type { ResolvedOptions } from './resolve-options.js'

/** An engine's event emitter, as the circuit needs it. */
export type EmitEvent = <K extends keyof CacheEvents>(name: K, ...payload: CacheEvents[K]) => void

export function cacheCircuit({ retry, clock }: Pick<ResolvedOptions, 'retry' | 'clock'>, diagnostics: Diagnostics, emit: EmitEvent): CircuitBreaker {
  return new CircuitBreaker(
    {
      threshold: retry.circuitThreshold,
      baseDelayMs: Math.max(1, retry.baseDelayMs),
      maxDelayMs: Math.max(1, retry.maxDelayMs),
      onOpen: (e) => {
        diagnostics.circuitOpened(e.failures)
        emit('circuit:open', e)
      },
      onClose: (e) => {
        diagnostics.circuitClosed(e.openForMs)
        emit('circuit:close', e)
      },
    },
    clock,
  )
}
