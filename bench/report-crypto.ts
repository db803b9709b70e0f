import { barChart } from './report-svg';

/** The part of bench/results/crypto.json the report shows. */
export interface CryptoResult {
  at: string;
  pdvault: { results: Record<string, Record<'seal' | 'open', { opsPerSecond: number }>>; callsPer100k: number };
  encryptionSdkCommitting: { results: Record<string, Record<'seal' | 'open', { opsPerSecond: number }>> };
  encryptionSdkDefaultSigned: { results: Record<string, Record<'seal' | 'open', { opsPerSecond: number }>> };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderCrypto(crypto: CryptoResult): string {
  const blocks = Object.keys(crypto.pdvault.results).flatMap((value) =>
    (['seal', 'open'] as const).map((op) => {
      const bars = barChart(
        [
          { label: 'AWS Encryption SDK, signed', value: crypto.encryptionSdkDefaultSigned.results[value]![op].opsPerSecond, kind: 'baseline' },
          { label: 'AWS Encryption SDK, committing', value: crypto.encryptionSdkCommitting.results[value]![op].opsPerSecond, kind: 'baseline' },
          { label: 'pdvault key hierarchy', value: crypto.pdvault.results[value]![op].opsPerSecond, kind: 'ours' },
        ],
        'operations per second, one at a time',
      );
      return `<div><h3>${esc(value)} — ${op}</h3>${bars}</div>`;
    }),
  );
  return `<section><h2>Field encryption (crypto)</h2><p class="muted">Run ${esc(crypto.at)}. Provider calls per 100,000 seals from a cold start: ${crypto.pdvault.callsPer100k}.</p><div class="charts">${blocks.join('')}</div></section>`;
}
