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

export interface Contender {
  target: Measurement['target'];
  label: string;
  load: Load;
}

/**
 * Each contender measured `rounds` times, taking turns (A, B, A, B, …), and each summed over its
 * windows: a share of the machine that drifts over minutes (a neighbour's load, the clock) then
 * weighs on every contender alike instead of on whichever happened to run during it. Throughput
 * and CPU per request are over all the contender's windows; each latency percentile is the
 * median of its windows' (percentiles do not add up).
 */
export async function measureInTurns(contenders: readonly Contender[], settings: LoadSettings, rounds: number): Promise<Measurement[]> {
  const windows = contenders.map((): Measurement[] => []);
  for (let round = 0; round < rounds; round++) {
    for (const [i, { target, label, load }] of contenders.entries()) windows[i]!.push(await measure(target, label, load, settings));
  }
  return windows.map((measured, i) => combine(`${contenders[i]!.label} (${rounds} windows, in turns)`, measured));
}

function combine(label: string, windows: readonly Measurement[]): Measurement {
  const sum = (of: (m: Measurement) => number) => windows.reduce((total, m) => total + of(m), 0);
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
  const answered = (m: Measurement) => m.ok + m.non2xx;
  const cpuTime = (key: 'serverMicrosPerRequest' | 'postgresMicrosPerRequest') => (m: Measurement) => (m.cpu ? m.cpu[key] * answered(m) : 0);
  const statusCodes: Record<string, number> = {};
  for (const m of windows) for (const [code, count] of Object.entries(m.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + count;
  const latency = Object.fromEntries(Object.keys(windows[0]!.latency).map((key) => [key, median(windows.map((m) => m.latency[key as keyof LatencySummary]))])) as unknown as LatencySummary;
  const seconds = sum((m) => m.seconds);
  return {
    target: windows[0]!.target,
    label,
    opsPerSecond: sum((m) => m.ok) / seconds,
    ok: sum((m) => m.ok),
    errors: sum((m) => m.errors),
    non2xx: sum((m) => m.non2xx),
    statusCodes,
    seconds,
    latency,
    curve: windows[0]!.curve.map(([percentile], j) => [percentile, median(windows.map((m) => m.curve[j]![1]))]),
    ...(windows.every((m) => m.cpu) && {
      cpu: { serverMicrosPerRequest: sum(cpuTime('serverMicrosPerRequest')) / sum(answered), postgresMicrosPerRequest: sum(cpuTime('postgresMicrosPerRequest')) / sum(answered) },
    }),
  };
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
