import fs from 'node:fs';
import type { MemorySeries, Phase } from './results';

/** A V8 heap in bytes: in use after the latest full collection, and what V8 has committed for it. */
export interface HeapFigures {
  used: number;
  committed: number;
}

const mib = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;

/**
 * Samples the resident set size of the benchmark's child processes from /proc, once a second,
 * and, for those that answer it, the V8 heap in use after their latest full collection and the
 * heap committed: RSS follows how much heap V8 chose to keep, the first what the process holds on to.
 */
export class MemorySampler {
  private readonly series = new Map<string, { pid: number; samples: Array<[number, number]> }>();
  private readonly heaps = new Map<string, { probe: (() => Promise<HeapFigures>) | undefined; samples: { used: Array<[number, number]>; committed: Array<[number, number]> } }>();
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

  /** Also samples `name`'s V8 heap, as `probe` reads it: series named `<name> heap used` and `<name> heap committed`. */
  watchHeap(name: string, probe: () => Promise<HeapFigures>): void {
    this.heaps.set(name, { probe, samples: { used: [], committed: [] } });
  }

  unwatch(name: string): void {
    const entry = this.series.get(name);
    if (entry) entry.pid = 0;
    const heap = this.heaps.get(name);
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
    const samples = this.samplesOf(name).filter(([t]) => t >= from && t <= to);
    if (samples.length === 0) return undefined;
    const values = samples.map(([, mb]) => mb);
    return { first: values[0]!, last: values.at(-1)!, peak: Math.max(...values), least: Math.min(...values) };
  }

  stop(): { memory: MemorySeries[]; phases: Phase[] } {
    clearInterval(this.timer);
    const memory = [...this.seriesNames()].map((process) => ({ process, samples: thin(this.samplesOf(process), 600) }));
    return { memory, phases: this.phases };
  }

  private *seriesNames(): Iterable<string> {
    yield* this.series.keys();
    for (const name of this.heaps.keys()) yield* [`${name} heap used`, `${name} heap committed`];
  }

  private samplesOf(name: string): Array<[number, number]> {
    const rss = this.series.get(name);
    if (rss) return rss.samples;
    const [, process, kind] = /^(.*) heap (used|committed)$/.exec(name) ?? [];
    const heap = process === undefined ? undefined : this.heaps.get(process);
    return heap ? heap.samples[kind as 'used' | 'committed'] : [];
  }

  private sample(): void {
    const t = Math.round(this.now() * 10) / 10;
    for (const entry of this.series.values()) {
      const mb = entry.pid ? rssMiB(entry.pid) : undefined;
      if (mb !== undefined) entry.samples.push([t, mb]);
    }
    for (const heap of this.heaps.values()) {
      heap.probe?.().then(
        ({ used, committed }) => {
          heap.samples.used.push([t, mib(used)]);
          heap.samples.committed.push([t, mib(committed)]);
        },
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
