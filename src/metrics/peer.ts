/**
 * Loads an optional peer package (prom-client, @opentelemetry/api) when an adapter is first called,
 * not when its module is imported: importing `writebehind/prometheus` never fails, and calling it
 * without the package throws a `PeerMissingError` that names the package. Synchronous (`require`:
 * both peers ship CommonJS), so registering stays a plain call; resolved from this package, the
 * way an `import` here would resolve it.
 */
import { createRequire } from 'node:module'
import { PeerMissingError } from '../errors.js'

const require = createRequire(import.meta.url)

/** `peer`'s exports, or a `PeerMissingError` naming it and the `feature` that needs it. */
export function loadPeer<T>(peer: string, feature: string): T {
  try {
    return require(peer) as T
  } catch (cause) {
    if ((cause as { code?: unknown } | null)?.code === 'MODULE_NOT_FOUND') throw new PeerMissingError(peer, feature, { cause })
    throw cause
  }
}
