import type { Logger } from '../observability/logger';
import { KeyProviderError } from './key-provider';
import type { KeyMetrics } from './key-metrics';
import { fromProviderError } from './key-errors';
import { zeroSoon } from './zeroize';

export interface KekCacheOptions {
  /** A cached KEK is re-confirmed with the provider after this long. */
  maxAgeMs: number;
  /** How long past `maxAgeMs` a KEK still serves reads while the provider cannot be reached. */
  staleMs: number;
  /** Most generations held unwrapped at once. */
  maxEntries: number;
  now: () => number;
}

/** Fetches one generation's data key from the provider (the caller reads the wrapped key from the store). */
export type KekLoader = (generationId: number) => Promise<Buffer>;

interface Entry {
  key: Buffer;
  fetchedAt: number;
}

// Start re-confirming a key when this fraction of its maximum age has passed, so readers never wait for it.
const REFRESH_AHEAD = 0.75;
// After a failed refresh, reads do not trigger another one for this long (an outage is not retried per read).
const RETRY_AFTER_FAILURE_MS = 1000;

/**
 * Unwrapped KEK generations, bounded by count and by age. Fresh keys serve everything;
 * keys past their maximum age serve reads only, for a bounded time, and only because the
 * provider was unreachable (an explicit refusal from the provider drops them at once).
 * Buffers handed out must be used before the caller next waits for I/O: evicted keys are
 * zeroed at the end of the event-loop turn.
 */
export class KekCache {
  private readonly entries = new Map<number, Entry>();
  private readonly inflight = new Map<number, Promise<Buffer>>();
  private readonly lastFailure = new Map<number, number>();

  constructor(
    private readonly load: KekLoader,
    private readonly options: KekCacheOptions,
    private readonly metrics: KeyMetrics,
    private readonly logger: Logger,
  ) {}

  /** A key that may open data: fresh, or stale within the bound; fetched when absent. */
  async forRead(generationId: number): Promise<Buffer> {
    if (this.usableForRead(generationId)) return this.entries.get(generationId)!.key;
    this.metrics.cacheMiss('kek');
    return this.fetch(generationId);
  }

  /** A key that may wrap new keys: only a fresh one; a stale key makes the caller wait for the provider. */
  async forWrap(generationId: number): Promise<Buffer> {
    const entry = this.entries.get(generationId);
    if (entry && this.age(entry) < this.options.maxAgeMs) {
      this.metrics.cacheHit('kek');
      this.refreshAheadIfDue(generationId, entry);
      return entry.key;
    }
    this.metrics.cacheMiss('kek');
    return this.fetch(generationId);
  }

  /**
   * Synchronous check for the subject-key cache's hot path: may keys unwrapped by this
   * generation still be used? Starts a background refresh when one is due.
   */
  usableForRead(generationId: number): boolean {
    const entry = this.entries.get(generationId);
    if (!entry) return false;
    const age = this.age(entry);
    if (age < this.options.maxAgeMs) {
      this.metrics.cacheHit('kek');
      this.refreshAheadIfDue(generationId, entry);
      return true;
    }
    if (age < this.options.maxAgeMs + this.options.staleMs) {
      this.metrics.cacheHit('kek');
      this.metrics.staleKekUse();
      this.refreshInBackground(generationId);
      return true;
    }
    this.evict(generationId);
    return false;
  }

  /** Holds a key the vault just generated; the cache now owns (and will zero) the buffer. */
  put(generationId: number, key: Buffer): void {
    this.evict(generationId);
    this.entries.set(generationId, { key, fetchedAt: this.options.now() });
    while (this.entries.size > this.options.maxEntries) this.evict(this.entries.keys().next().value!);
  }

  evict(generationId: number): void {
    const entry = this.entries.get(generationId);
    if (!entry) return;
    zeroSoon(entry.key);
    this.entries.delete(generationId);
  }

  clear(): void {
    for (const id of [...this.entries.keys()]) this.evict(id);
  }

  get size(): number {
    return this.entries.size;
  }

  private age(entry: Entry): number {
    return this.options.now() - entry.fetchedAt;
  }

  private refreshAheadIfDue(generationId: number, entry: Entry): void {
    if (this.age(entry) >= this.options.maxAgeMs * REFRESH_AHEAD) this.refreshInBackground(generationId);
  }

  private refreshInBackground(generationId: number): void {
    if (this.inflight.has(generationId)) return;
    const failedAt = this.lastFailure.get(generationId);
    if (failedAt !== undefined && this.options.now() - failedAt < RETRY_AFTER_FAILURE_MS) return;
    // Failures are handled (and logged) inside fetch; readers keep the cached key meanwhile.
    this.fetch(generationId).catch(() => undefined);
  }

  /** One provider round trip per generation at a time; concurrent callers share it. */
  private fetch(generationId: number): Promise<Buffer> {
    const running = this.inflight.get(generationId);
    if (running) return running;
    const fetching = this.fetchOnce(generationId).finally(() => this.inflight.delete(generationId));
    this.inflight.set(generationId, fetching);
    return fetching;
  }

  private async fetchOnce(generationId: number): Promise<Buffer> {
    let fresh: Buffer;
    try {
      fresh = await this.load(generationId);
    } catch (error) {
      this.onFetchFailure(generationId, error);
      throw fromProviderError(error, 'unwrap KEK generation');
    }
    this.lastFailure.delete(generationId);
    const held = this.entries.get(generationId);
    if (held && held.key.equals(fresh)) {
      // Same key re-confirmed: keep the buffer callers may hold, drop the new copy.
      fresh.fill(0);
      held.fetchedAt = this.options.now();
      return held.key;
    }
    this.put(generationId, fresh);
    return fresh;
  }

  private onFetchFailure(generationId: number, error: unknown): void {
    this.lastFailure.set(generationId, this.options.now());
    if (error instanceof KeyProviderError && error.reason === 'unavailable') {
      this.logger.warn({ kek_generation: generationId, reason: error.message }, 'key provider unreachable; cached KEK kept for reads within the stale bound');
      return;
    }
    // The provider refused, or the wrapped key is bad: stop using what we hold at once.
    this.evict(generationId);
    const reason = error instanceof Error ? error.message : 'unknown';
    this.logger.error({ kek_generation: generationId, reason }, 'KEK generation could not be unwrapped; cached copy dropped');
  }
}
