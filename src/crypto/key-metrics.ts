import type { Metrics } from '../observability/metrics';
import type { ProviderFailureReason, ProviderOperation } from './key-provider';

export type KeyCache = 'kek' | 'subject_key';
export type ProviderOutcome = 'success' | ProviderFailureReason;

/** What the key hierarchy counts; a narrow interface so the hot path touches pre-labelled children only. */
export interface KeyMetrics {
  providerCall(operation: ProviderOperation, outcome: ProviderOutcome): void;
  cacheHit(cache: KeyCache): void;
  cacheMiss(cache: KeyCache): void;
  /** A read served by a KEK past its maximum age because the provider could not refresh it. */
  staleKekUse(): void;
}

export function keyMetrics(metrics: Metrics): KeyMetrics {
  const calls = metrics.counter('pdvault_key_provider_calls_total', 'Key provider (KMS) calls by operation and outcome.', ['operation', 'outcome'] as const);
  const hits = metrics.counter('pdvault_key_cache_hits_total', 'Unwrapped-key cache hits, by cache.', ['cache'] as const);
  const misses = metrics.counter('pdvault_key_cache_misses_total', 'Unwrapped-key cache misses, by cache.', ['cache'] as const);
  const stale = metrics.counter('pdvault_kek_stale_uses_total', 'Reads served by a KEK past its maximum age while the key provider was unreachable.', [] as const);
  const hit = { kek: hits.labels('kek'), subject_key: hits.labels('subject_key') };
  const miss = { kek: misses.labels('kek'), subject_key: misses.labels('subject_key') };
  return {
    providerCall: (operation, outcome) => calls.labels(operation, outcome).inc(),
    cacheHit: (cache) => hit[cache].inc(),
    cacheMiss: (cache) => miss[cache].inc(),
    staleKekUse: () => stale.inc(),
  };
}

export const NO_KEY_METRICS: KeyMetrics = {
  providerCall: () => undefined,
  cacheHit: () => undefined,
  cacheMiss: () => undefined,
  staleKekUse: () => undefined,
};
