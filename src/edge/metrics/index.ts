/** Built-in system metrics (CPU, memory, disk, load, uptime, temperatures) as telemetry records. */
export { SystemMetrics, type SystemMetricsOptions } from './source.js';
export type { MetricPaths } from './readers.js';
