import fs from 'node:fs';
import type { MemorySeries, Phase } from './results';

/** Samples the resident set size of the benchmark's child processes from /proc, once a second. */
export class MemorySampler {
  private readonly series = new Map<string, { pid: number; samples: Array<[number, number]> }>();
  private readonly phases: Phase[] = [];
  private readonly started = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 1000) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  /** Seconds since the run started. */
  now(): number {
    return (Date.now() - this.started) / 1000;
  }

  watch(name: string, pid: number): void {
    this.series.set(name, { pid, samples: [] });
    this.sample();
  }

  unwatch(name: string): void {
    const entry = this.series.get(name);
    if (entry) entry.pid = 0;
  }

  async phase<T>(name: string, run: () => Promise<T>): Promise<T> {
    const start = this.now();
    try {
      return await run();
    } finally {
      this.phases.push({ name, start, end: this.now() });
    }
  }

  /** RSS of `name` between two moments: first and last sample, and the largest. */
  between(name: string, from: number, to: number): { first: number; last: number; peak: number } | undefined {
    const samples = this.series.get(name)?.samples.filter(([t]) => t >= from && t <= to) ?? [];
    if (samples.length === 0) return undefined;
    return { first: samples[0]![1], last: samples.at(-1)![1], peak: Math.max(...samples.map(([, mb]) => mb)) };
  }

  stop(): { memory: MemorySeries[]; phases: Phase[] } {
    clearInterval(this.timer);
    const memory = [...this.series].map(([process, { samples }]) => ({ process, samples: thin(samples, 600) }));
    return { memory, phases: this.phases };
  }

  private sample(): void {
    const t = Math.round(this.now() * 10) / 10;
    for (const entry of this.series.values()) {
      const mb = entry.pid ? rssMiB(entry.pid) : undefined;
      if (mb !== undefined) entry.samples.push([t, mb]);
    }
  }
}

function rssMiB(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Math.round((Number(match[1]) / 1024) * 10) / 10 : undefined;
  } catch {
    return undefined;
  }
}

/** At most `max` points, evenly picked, keeping the last: the results file stays small. */
function thin<T>(points: T[], max: number): T[] {
  if (points.length <= max) return points;
  const step = points.length / max;
  const kept = Array.from({ length: max - 1 }, (_, i) => points[Math.floor(i * step)]!);
  return [...kept, points.at(-1)!];
}
