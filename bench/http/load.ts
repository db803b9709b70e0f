import autocannon from 'autocannon';
import { readCpu } from './cpu';
import type { LatencySummary, Measurement } from './results';

export interface Load {
  /** The listener, always on loopback: https://127.0.0.1:<port>. */
  url: string;
  request: autocannon.Request;
  headers?: Record<string, string>;
  /** Resolves once the target has finished the requests an earlier window left running. */
  settle: () => Promise<void>;
  /** The serving process, whose CPU time per request is reported beside PostgreSQL's. */
  pid?: number;
}

export interface LoadSettings {
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
}

// The percentiles autocannon reports, as [percentile, its key in the result].
const CURVE: Array<[number, string]> = [
  [1, 'p1'], [10, 'p10'], [25, 'p25'], [50, 'p50'], [75, 'p75'], [90, 'p90'], [97.5, 'p97_5'], [99, 'p99'], [99.9, 'p99_9'], [99.99, 'p99_99'],
];

/** HTTPS with keep-alive (autocannon's connections stay open), TLS 1.3, traffic only to 127.0.0.1. */
function run(load: Load, connections: number, duration: number): Promise<autocannon.Result> {
  if (!load.url.startsWith('https://127.0.0.1:')) throw new Error(`refusing to load anything but 127.0.0.1: ${load.url}`);
  const instance = autocannon({
    url: load.url,
    connections,
    duration,
    servername: 'localhost',
    tlsOptions: { minVersion: 'TLSv1.3' },
    headers: load.headers,
    requests: [load.request],
    timeout: 30,
  });
  return Promise.resolve(instance);
}

/** A warm-up (discarded), then the measured window. */
export async function measure(target: Measurement['target'], label: string, load: Load, settings: LoadSettings): Promise<Measurement> {
  await load.settle();
  if (settings.warmupSeconds > 0) {
    await run(load, settings.connections, settings.warmupSeconds);
    await load.settle();
  }
  const before = load.pid === undefined ? undefined : readCpu(load.pid);
  const result = await run(load, settings.connections, settings.durationSeconds);
  const after = load.pid === undefined ? undefined : readCpu(load.pid);
  const measurement = toMeasurement(target, label, result);
  const answered = result['2xx'] + result.non2xx;
  if (before && after && answered > 0) {
    measurement.cpu = {
      serverMicrosPerRequest: ((after.server - before.server) * 1e6) / answered,
      postgresMicrosPerRequest: ((after.postgres - before.postgres) * 1e6) / answered,
    };
  }
  return measurement;
}

function toMeasurement(target: Measurement['target'], label: string, result: autocannon.Result): Measurement {
  const at = (key: string) => (result.latency as unknown as Record<string, number>)[key] ?? 0;
  const latency: LatencySummary = { mean: result.latency.mean, p50: at('p50'), p90: at('p90'), p99: at('p99'), p999: at('p99_9'), max: result.latency.max };
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count]));
  return {
    target,
    label,
    opsPerSecond: result['2xx'] / result.duration,
    ok: result['2xx'],
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    statusCodes,
    seconds: result.duration,
    latency,
    curve: CURVE.map(([percentile, key]) => [percentile, at(key)]),
  };
}
