/** Errors of the metrics adapters (`writebehind/prometheus`, `writebehind/otel`). */
import { WriteBehindError, type ErrorDetails } from './base.js'

/**
 * An optional peer package a feature needs is not installed (`peer` names it): `prom-client` for
 * `registerPrometheus`, `@opentelemetry/api` for `registerOpenTelemetry` without a `meterProvider`.
 */
export class PeerMissingError extends WriteBehindError<'E_PEER_MISSING'> {
  constructor(
    readonly peer: string,
    readonly feature: string,
    details: ErrorDetails = {},
  ) {
    super('E_PEER_MISSING', `${feature} needs the ${peer} package, which is not installed: npm install ${peer}.`, details)
  }
}

/**
 * A metrics adapter could not register a cache: `E_METRICS_DUPLICATE` when a cache of this `name`
 * is already registered on this registry (the same cache twice, or two caches sharing a name, whose
 * messages could not be told apart); `E_METRICS_CONFLICT` when the registry already holds a metric
 * of one of its names that it did not make, or made with other label names (`metric` names it).
 */
export class MetricsRegistrationError extends WriteBehindError<'E_METRICS_DUPLICATE' | 'E_METRICS_CONFLICT'> {
  constructor(
    code: 'E_METRICS_DUPLICATE' | 'E_METRICS_CONFLICT',
    readonly cache: string,
    readonly metric?: string,
  ) {
    super(
      code,
      code === 'E_METRICS_DUPLICATE'
        ? `A cache named "${cache}" is already registered on this registry. Give each cache its own name (option name), or unregister the first one.`
        : `The registry already holds a metric "${metric ?? ''}" that writebehind did not make, or made with other label names. ` +
            'Use another prefix, remove that metric, or give every cache on this registry the same label names.',
    )
  }
}
