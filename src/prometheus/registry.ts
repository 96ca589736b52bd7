/**
 * The part of a prom-client `Registry` the adapter calls (prom-client's metric classes call
 * `registerMetric`): declared here, structurally, so the published types never import prom-client
 * and a registry of any prom-client version that has these methods fits.
 */
export interface PrometheusRegistryLike {
  getSingleMetric(name: string): unknown
  removeSingleMetric(name: string): void
  registerMetric(metric: never): void
}
