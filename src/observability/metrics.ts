import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** A registry per vault instance, so two vaults in one process (tests) never share counters. */
export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  gauge(name: string, help: string, collect: () => number): void;
  counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L>;
  /** Forgets every metric, and with them the components their gauges read (a stopped vault). */
  close(): void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pdvault_' });
  // /metrics answers without a token: the exact runtime release would tell anyone which known
  // flaws to try. The image and the README say which Node the vault runs on.
  registry.removeSingleMetric('pdvault_nodejs_version_info');
  const httpDuration = new Histogram({
    name: 'pdvault_http_request_duration_seconds',
    help: 'HTTP request duration by route template and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  return {
    registry,
    httpDuration,
    gauge(name, help, collect) {
      new Gauge({ name, help, registers: [registry], collect() { this.set(collect()); } });
    },
    counter(name, help, labelNames) {
      return new Counter({ name, help, labelNames, registers: [registry] });
    },
    close() {
      // The default metrics' GC observer cannot be disconnected and holds this registry for the
      // process's life; emptied, the registry no longer holds the vault its gauges read.
      registry.clear();
    },
  };
}
