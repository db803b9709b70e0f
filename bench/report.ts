/**
 * Merges every bench/results/<scenario>.json into bench/results/latest.json and renders
 * bench/results/report.html: one self-contained page (inline CSS and SVG, no script, nothing
 * fetched) that opens offline. `npm run bench:report` re-renders it without running anything.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { HttpRunResult, Measurement, ScenarioResult } from './http/results';
import { barChart, lineChart, ninesOf, type Bar } from './report-svg';
import { renderCrypto, type CryptoResult } from './report-crypto';

const RESULTS_DIR = path.resolve(__dirname, 'results');
const LATEST = path.join(RESULTS_DIR, 'latest.json');
const REPORT = path.join(RESULTS_DIR, 'report.html');

export interface Latest {
  generatedAt: string;
  results: Record<string, unknown>;
}

export const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => (n >= 100 ? int(n) : String(Math.round(n * 10) / 10));

export function writeLatestAndReport(): void {
  const results: Record<string, unknown> = {};
  for (const file of fs.existsSync(RESULTS_DIR) ? fs.readdirSync(RESULTS_DIR).sort() : []) {
    if (!file.endsWith('.json') || file === 'latest.json') continue;
    results[file.slice(0, -'.json'.length)] = JSON.parse(fs.readFileSync(path.join(RESULTS_DIR, file), 'utf8'));
  }
  const latest: Latest = { generatedAt: new Date().toISOString(), results };
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  fs.writeFileSync(LATEST, JSON.stringify(latest) + '\n');
  fs.writeFileSync(REPORT, renderReport(latest));
  process.stdout.write(`\nwrote ${path.relative(process.cwd(), LATEST)} and ${path.relative(process.cwd(), REPORT)}\n`);
}

export function renderReport(latest: Latest): string {
  const http = latest.results.http as HttpRunResult | undefined;
  const crypto = latest.results.crypto as CryptoResult | undefined;
  const others = Object.entries(latest.results).filter(([name]) => name !== 'http' && name !== 'crypto');
  const sections = [
    http ? renderTargets(http) : '',
    http ? http.scenarios.map((s) => renderScenario(s)).join('') : '<p>No HTTP results yet: <code>npm run bench -- http</code>.</p>',
    http ? renderMemory(http) : '',
    crypto ? renderCrypto(crypto) : '',
    ...others.map(([name, value]) => `<section><h2>${esc(name)}</h2><pre>${esc(JSON.stringify(value, null, 2))}</pre></section>`),
  ];
  const machine = http ? `${http.cpus} × ${esc(http.cpu)}, node ${esc(http.node)}; HTTP run ${esc(http.at)}; ${esc(Object.entries(http.settings).map(([k, v]) => `${k} ${v}`).join(', '))}` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pdvault benchmark report</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1000px;color:#202124;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #dadce0}h3{font-size:15px;margin:24px 0 6px}
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}td:first-child,th:first-child{text-align:left}
.met{color:#188038;font-weight:600}.missed{color:#d93025;font-weight:600}.muted{color:#5f6368}.charts{display:flex;flex-wrap:wrap;gap:16px}
pre{background:#f8f9fa;padding:8px;overflow:auto;font-size:12px}
</style></head><body>
<h1>pdvault benchmark report</h1>
<p class="muted">Generated ${esc(latest.generatedAt)}. ${machine}. The load generator runs on the same machine as the vault, the baseline and PostgreSQL, so every figure includes its share of the CPU.</p>
${sections.join('\n')}
</body></html>
`;
}

function renderTargets(http: HttpRunResult): string {
  const rows = http.scenarios.flatMap((s) =>
    s.skipped
      ? [`<tr><td>${esc(s.name)}</td><td>—</td><td class="muted">skipped</td><td class="muted">${esc(s.skipped)}</td></tr>`]
      : s.targets.map((t) => `<tr><td>${esc(s.name)}</td><td>${esc(t.text)}</td><td class="${t.met ? 'met' : 'missed'}">${t.met === null ? '?' : t.met ? 'met' : 'missed'}</td><td>${esc(t.detail)}</td></tr>`),
  );
  return `<section><h2>Targets</h2><table><tr><th>scenario</th><th>target</th><th></th><th>measured</th></tr>${rows.join('')}</table></section>`;
}

const kindOf = (m: Measurement): Bar['kind'] => (m.target === 'baseline' ? 'baseline' : m.target === 'vault' ? 'ours' : 'other');

function renderScenario(s: ScenarioResult): string {
  if (s.skipped) return `<h3>${esc(s.name)} — ${esc(s.title)}</h3><p class="muted">Skipped: ${esc(s.skipped)}</p>`;
  const baseline = s.measurements.find((m) => m.target === 'baseline');
  const rows = s.measurements.map(
    (m) =>
      `<tr><td>${esc(m.label)}</td><td>${int(m.opsPerSecond)}</td><td>${baseline && m !== baseline ? (m.opsPerSecond / baseline.opsPerSecond).toFixed(2) + '×' : ''}</td>` +
      `<td>${ms(m.latency.p50)}</td><td>${ms(m.latency.p90)}</td><td>${ms(m.latency.p99)}</td><td>${ms(m.latency.max)}</td><td>${m.errors + m.non2xx}</td></tr>`,
  );
  const bars = barChart(s.measurements.map((m) => ({ label: m.label, value: m.opsPerSecond, kind: kindOf(m) })), 'successful requests per second');
  const curves = lineChart(
    s.measurements.map((m, i) => ({ name: m.label, points: m.curve.map(([p, v]) => [ninesOf(p), v] as [number, number]), color: m.target === 'baseline' ? '#9aa0a6' : ['#1a73e8', '#e8710a', '#188038'][i % 3] })),
    { xLabel: 'percentile', yLabel: 'ms (log)', logY: true, xTicks: [[ninesOf(50), 'p50'], [ninesOf(90), 'p90'], [ninesOf(99), 'p99'], [ninesOf(99.9), 'p99.9'], [ninesOf(99.99), 'p99.99']] },
  );
  const targets = s.targets.map((t) => `<li><span class="${t.met ? 'met' : 'missed'}">${t.met === null ? '?' : t.met ? 'met' : 'missed'}</span> ${esc(t.text)}: ${esc(t.detail)}</li>`);
  const notes = s.notes.map((n) => `<li class="muted">${esc(n)}</li>`);
  return `<h3>${esc(s.name)} — ${esc(s.title)}</h3>
<table><tr><th>measurement</th><th>ops/s</th><th>vs baseline</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>max ms</th><th>errors</th></tr>${rows.join('')}</table>
<ul>${targets.join('')}${notes.join('')}</ul><div class="charts">${bars}${curves}</div>`;
}

function renderMemory(http: HttpRunResult): string {
  if (!http.memory.length) return '';
  const end = Math.max(1, ...http.memory.flatMap((s) => s.samples.map(([t]) => t)));
  const step = end > 600 ? 120 : end > 120 ? 60 : 10;
  const xTicks = Array.from({ length: Math.floor(end / step) + 1 }, (_, i) => [i * step, `${i * step} s`] as [number, string]);
  const chart = lineChart(
    http.memory.map((s) => ({ name: s.process, points: s.samples, color: s.process === 'baseline' ? '#9aa0a6' : s.process === 'vault' ? '#1a73e8' : '#e8710a' })),
    { xLabel: 'seconds into the run', yLabel: 'RSS MiB', xTicks, bands: http.phases.map((p) => ({ from: p.start, to: p.end, label: p.name })), width: 960 },
  );
  return `<section><h2>Memory over the run</h2><p class="muted">Resident set size of each child process, sampled once a second; shaded bands are the scenarios.</p>${chart}</section>`;
}

if (require.main === module) writeLatestAndReport();
