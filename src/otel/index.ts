/**
 * `writebehind/otel`: a cache's metrics through the OpenTelemetry metrics API. Pass your SDK's
 * `meterProvider`, or install `@opentelemetry/api` (an optional peer dependency) to use the global
 * provider, a no-op until the app installs an SDK.
 */
export { registerOpenTelemetry, METER_NAME, type OpenTelemetryOptions, type OpenTelemetryHandle, type MeterProviderLike } from './register.js'
export type { MeteredCache } from '../metrics/readings.js'
export { INSTRUMENTS, LABEL_VALUES, type Instrument, type InstrumentId, type LabelName } from '../metrics/instruments.js'
