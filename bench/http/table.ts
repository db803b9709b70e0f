import type { Measurement, ScenarioResult } from './results';

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => (n >= 100 ? int(n) : String(Math.round(n * 10) / 10));

/** One scenario as a text table: each measurement beside the run's baseline, then its targets. */
export function formatScenario(result: ScenarioResult): string {
  const head = `\n${result.name} — ${result.title}\n`;
  if (result.skipped) return `${head}  skipped: ${result.skipped}\n`;
  const baseline = result.measurements.find((m) => m.target === 'baseline');
  const items = result.itemsPerRequest > 1;
  const header = ['measurement', 'ops/s', 'vs baseline', ...(items ? ['items/s'] : []), 'p50 ms', 'p99 ms', 'errors', 'server µs/req', 'postgres µs/req'];
  const row = (m: Measurement) => [
    m.label,
    int(m.opsPerSecond),
    baseline && m !== baseline ? `${(m.opsPerSecond / baseline.opsPerSecond).toFixed(2)}x` : '',
    ...(items ? [m.target === 'baseline' ? '' : int(m.opsPerSecond * result.itemsPerRequest)] : []),
    ms(m.latency.p50),
    ms(m.latency.p99),
    m.errors + m.non2xx ? `${m.errors + m.non2xx} (${Object.entries(m.statusCodes).filter(([c]) => !c.startsWith('2')).map(([c, n]) => `${c}×${n}`).join(' ') || 'socket'})` : '0',
    m.cpu ? int(m.cpu.serverMicrosPerRequest) : '',
    m.cpu ? int(m.cpu.postgresMicrosPerRequest) : '',
  ];
  const rows = result.measurements.map(row);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => '  ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const targets = result.targets.map((t) => `  ${t.met === null ? '?' : t.met ? 'met   ' : 'MISSED'}  ${t.text}: ${t.detail}`);
  const notes = result.notes.map((n) => `  note: ${n}`);
  return [head.trimEnd(), line(header), '  ' + widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line), ...targets, ...notes, ''].join('\n');
}
