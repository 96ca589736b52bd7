/**
 * `writebehind/prometheus`: a cache's metrics on a prom-client registry. Needs the `prom-client`
 * package (an optional peer dependency), loaded when `registerPrometheus` is first called.
 */
export { registerPrometheus, DEFAULT_PREFIX, type PrometheusOptions, type PrometheusHandle } from './register.js'
export type { PrometheusRegistryLike } from './registry.js'
export type { MeteredCache } from '../metrics/readings.js'
export { INSTRUMENTS, LABEL_VALUES, type Instrument, type InstrumentId, type LabelName } from '../metrics/instruments.js'
