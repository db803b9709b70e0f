/** What an HTTP benchmark run records (bench/results/http.json): small, so it can be committed. */

export interface LatencySummary {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface Measurement {
  /** What was driven: the baseline server, the vault, or the vault with auditing off. */
  target: 'baseline' | 'vault' | 'vault-unaudited';
  label: string;
  /** Successful (2xx) requests per second over the measured window. */
  opsPerSecond: number;
  ok: number;
  errors: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  seconds: number;
  latency: LatencySummary;
  /** [percentile, milliseconds] pairs for the latency curves. */
  curve: Array<[number, number]>;
  /** CPU time per answered request over the measured window: the serving process, and all of PostgreSQL. */
  cpu?: { serverMicrosPerRequest: number; postgresMicrosPerRequest: number };
}

export interface Target {
  text: string;
  /** null when the figure cannot be judged (nothing measured). */
  met: boolean | null;
  detail: string;
}

export interface ScenarioResult {
  name: string;
  title: string;
  /** Items per request (1,000 for a batch resolution), to print items per second. */
  itemsPerRequest: number;
  measurements: Measurement[];
  targets: Target[];
  notes: string[];
  skipped?: string;
}

export interface MemorySeries {
  process: string;
  /** [seconds since the run started, resident set size in MiB]. */
  samples: Array<[number, number]>;
}

export interface Phase {
  name: string;
  start: number;
  end: number;
}

export interface HttpRunResult {
  scenario: 'http';
  at: string;
  node: string;
  cpu: string;
  cpus: number;
  settings: Record<string, string | number | boolean>;
  scenarios: ScenarioResult[];
  memory: MemorySeries[];
  phases: Phase[];
}
