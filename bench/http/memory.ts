import fs from 'node:fs';
import type { MemorySeries, Phase } from './results';

/**
 * Samples the resident set size of the benchmark's child processes from /proc, once a second,
 * and, for those that answer it, the V8 heap in use after their latest full collection: RSS
 * follows how much heap V8 chose to keep, that figure what the process holds on to.
 */
export class MemorySampler {
  private readonly series = new Map<string, { pid: number; samples: Array<[number, number]> }>();
  private readonly heaps = new Map<string, { probe: (() => Promise<number>) | undefined; samples: Array<[number, number]> }>();
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

  /** Also samples `name`'s heap in use (bytes), as `probe` reads it; a series named `<name> heap used`. */
  watchHeap(name: string, probe: () => Promise<number>): void {
    this.heaps.set(`${name} heap used`, { probe, samples: [] });
  }

  unwatch(name: string): void {
    const entry = this.series.get(name);
    if (entry) entry.pid = 0;
    const heap = this.heaps.get(`${name} heap used`);
    if (heap) heap.probe = undefined;
  }

  async phase<T>(name: string, run: () => Promise<T>): Promise<T> {
    const start = this.now();
    try {
      return await run();
    } finally {
      this.phases.push({ name, start, end: this.now() });
    }
  }

  /** A series of `name` (MiB) between two moments: first and last sample, the largest and the least. */
  between(name: string, from: number, to: number): { first: number; last: number; peak: number; least: number } | undefined {
    const samples = (this.series.get(name) ?? this.heaps.get(name))?.samples.filter(([t]) => t >= from && t <= to) ?? [];
    if (samples.length === 0) return undefined;
    const values = samples.map(([, mb]) => mb);
    return { first: values[0]!, last: values.at(-1)!, peak: Math.max(...values), least: Math.min(...values) };
  }

  stop(): { memory: MemorySeries[]; phases: Phase[] } {
    clearInterval(this.timer);
    const memory = [...this.series, ...this.heaps].map(([process, { samples }]) => ({ process, samples: thin(samples, 600) }));
    return { memory, phases: this.phases };
  }

  private sample(): void {
    const t = Math.round(this.now() * 10) / 10;
    for (const entry of this.series.values()) {
      const mb = entry.pid ? rssMiB(entry.pid) : undefined;
      if (mb !== undefined) entry.samples.push([t, mb]);
    }
    for (const heap of this.heaps.values()) {
      heap.probe?.().then(
        (bytes) => heap.samples.push([t, Math.round((bytes / 1048576) * 10) / 10]),
        () => undefined,
      );
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
