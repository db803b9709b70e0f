import type { Measurement, Target } from './results';

const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

/** `ours`'s throughput as a share of `reference`'s, e.g. "92%". */
export const percent = (ours: Measurement, reference: Measurement) => pct(ours.opsPerSecond / reference.opsPerSecond);

/** `ours` reaches at least `min` of `reference`'s throughput. */
export function throughputShare(text: string, ours: Measurement, reference: Measurement, min: number): Target {
  if (!ours.ok || !reference.ok) return { text, met: null, detail: 'nothing measured' };
  const share = ours.opsPerSecond / reference.opsPerSecond;
  return { text, met: share >= min, detail: share >= min ? `${pct(share)}` : `${pct(share)}, short by ${((min - share) * 100).toFixed(0)} points` };
}

export function atLeast(text: string, value: number, min: number, unit: string): Target {
  const met = value >= min;
  return { text, met, detail: met ? `${Math.round(value).toLocaleString('en-US')} ${unit}` : `${Math.round(value).toLocaleString('en-US')} ${unit}, short by ${pct((min - value) / min)}` };
}

export function below(text: string, value: number, max: number, unit: string): Target {
  const met = value < max;
  return { text, met, detail: met ? `${value} ${unit}` : `${value} ${unit}, ${(value / max).toFixed(1)}x the bound` };
}
