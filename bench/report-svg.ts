/** Inline SVG charts for the benchmark report: no script, no font or stylesheet from outside. */

export interface Bar {
  label: string;
  value: number;
  kind: 'baseline' | 'ours' | 'other';
}

export interface Series {
  name: string;
  points: Array<[number, number]>;
  color?: string;
}

const W = 460;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const COLORS: Record<Bar['kind'], string> = { baseline: '#9aa0a6', ours: '#1a73e8', other: '#e8710a' };
const PALETTE = ['#9aa0a6', '#1a73e8', '#e8710a', '#188038', '#a142f4', '#d93025'];
export const seriesColor = (i: number) => PALETTE[i % PALETTE.length]!;
const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : String(Math.round(n * 10) / 10));

/** Horizontal bars, one per measurement, the value printed at the end of each. */
export function barChart(bars: Bar[], unit: string): string {
  const rowH = 26;
  const labelW = 210;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const h = bars.length * rowH + 24;
  const rows = bars
    .map((b, i) => {
      const y = 8 + i * rowH;
      const w = ((W - labelW - 70) * b.value) / max;
      return `<text x="${labelW - 6}" y="${y + 15}" text-anchor="end">${esc(b.label)}</text><rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${COLORS[b.kind]}"/><text x="${labelW + w + 4}" y="${y + 15}">${fmt(b.value)}</text>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-size="11" font-family="sans-serif">${rows}<text x="${labelW}" y="${h - 4}" fill="#5f6368">${esc(unit)}</text></svg>`;
}

export interface LineChartOptions {
  xLabel: string;
  yLabel: string;
  /** Where to draw x ticks, with their labels, in x units. */
  xTicks: Array<[number, string]>;
  /** Shaded bands (phases) along x. */
  bands?: Array<{ from: number; to: number; label: string }>;
  logY?: boolean;
  width?: number;
}

/** Lines over shared axes, with a legend; y may be logarithmic (latency spans decades). */
export function lineChart(series: Series[], options: LineChartOptions): string {
  const width = options.width ?? W;
  const pad = { l: 52, r: 24, t: 22, b: 34 };
  const legendH = 16 * series.length;
  const plotH = 200;
  const h = pad.t + plotH + pad.b + legendH;
  const xs = series.flatMap((s) => s.points.map(([x]) => x)).concat(options.xTicks.map(([x]) => x));
  const ys = series.flatMap((s) => s.points.map(([, y]) => y)).filter((y) => !options.logY || y > 0);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const yMin = options.logY ? Math.max(0.1, Math.min(...ys)) : 0;
  const yMax = Math.max(yMin * 10, ...ys) * (options.logY ? 1.2 : 1.08);
  const tf = (y: number) => (options.logY ? Math.log10(Math.max(y, yMin)) : y);
  const px = (x: number) => pad.l + ((x - x0) / (x1 - x0 || 1)) * (width - pad.l - pad.r);
  const py = (y: number) => pad.t + plotH - ((tf(y) - tf(yMin)) / (tf(yMax) - tf(yMin) || 1)) * plotH;
  const yTicks = options.logY ? decades(yMin, yMax) : linearTicks(yMax);
  const parts: string[] = [];
  (options.bands ?? []).forEach((band, i) => {
    const a = px(band.from);
    const b = px(band.to);
    parts.push(`<rect x="${a.toFixed(1)}" y="${pad.t}" width="${Math.max(1, b - a).toFixed(1)}" height="${plotH}" fill="${i % 2 ? '#e8eaed' : '#f8f9fa'}"/><text x="${(a + 2).toFixed(1)}" y="${pad.t + 10 + (i % 2) * 11}" font-size="9" fill="#5f6368">${esc(band.label)}</text>`);
  });
  for (const y of yTicks) parts.push(`<line x1="${pad.l}" x2="${width - pad.r}" y1="${py(y).toFixed(1)}" y2="${py(y).toFixed(1)}" stroke="#e0e0e0"/><text x="${pad.l - 4}" y="${(py(y) + 4).toFixed(1)}" text-anchor="end">${fmt(y)}</text>`);
  for (const [x, label] of options.xTicks) parts.push(`<text x="${px(x).toFixed(1)}" y="${pad.t + plotH + 14}" text-anchor="middle">${esc(label)}</text>`);
  series.forEach((s, i) => {
    const color = s.color ?? seriesColor(i);
    const d = s.points.filter(([, y]) => !options.logY || y > 0).map(([x, y], j) => `${j ? 'L' : 'M'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    const ly = pad.t + plotH + pad.b + 12 + i * 16;
    parts.push(`<rect x="${pad.l}" y="${ly - 8}" width="14" height="4" fill="${color}"/><text x="${pad.l + 20}" y="${ly - 3}">${esc(s.name)}</text>`);
  });
  parts.push(`<text x="${width - pad.r}" y="${pad.t + plotH + 28}" text-anchor="end" fill="#5f6368">${esc(options.xLabel)}</text>`);
  parts.push(`<text x="4" y="12" fill="#5f6368">${esc(options.yLabel)}</text>`);
  parts.push(`<rect x="${pad.l}" y="${pad.t}" width="${width - pad.l - pad.r}" height="${plotH}" fill="none" stroke="#bdc1c6"/>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h}" viewBox="0 0 ${width} ${h}" font-size="10" font-family="sans-serif">${parts.join('')}</svg>`;
}

function decades(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    const v = 10 ** e;
    if (v >= min && v <= max) ticks.push(v);
  }
  return ticks;
}

function linearTicks(max: number): number[] {
  const step = 10 ** Math.floor(Math.log10(max / 2 || 1));
  const nice = [1, 2, 5].map((m) => m * step).find((s) => max / s <= 6) ?? step * 10;
  return Array.from({ length: Math.floor(max / nice) + 1 }, (_, i) => i * nice);
}

/** Percentile p on a "nines" axis: 50 → 0.3, 90 → 1, 99 → 2, 99.9 → 3. */
export const ninesOf = (percentile: number) => -Math.log10(1 - percentile / 100);
