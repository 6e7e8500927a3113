/**
 * The values the operator takes from prom-client, each from the module that defines it. The package
 * root also loads its cluster aggregator, and with it Node's `cluster` module (and `dgram`, about
 * 1.3 MiB resident) that a single-process operator never uses. Types still come from 'prom-client'.
 * prom-client has no "exports" map, so these paths resolve; src/observability/prom-client-lib.d.ts
 * types them, and an upgrade that moves one fails `npm run build` and the metrics tests.
 */
import collectDefaultMetricsModule from 'prom-client/lib/defaultMetrics.js';
import CounterModule from 'prom-client/lib/counter.js';
import GaugeModule from 'prom-client/lib/gauge.js';
import HistogramModule from 'prom-client/lib/histogram.js';
import RegistryModule from 'prom-client/lib/registry.js';

export const collectDefaultMetrics = collectDefaultMetricsModule;
export const Counter = CounterModule;
export const Gauge = GaugeModule;
export const Histogram = HistogramModule;
export const Registry = RegistryModule;
