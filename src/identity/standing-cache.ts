import { LRUCache } from 'lru-cache';
import type { ClientStanding } from '../store/clients';

export interface StandingSource {
  standing(clientId: string, jti: string): Promise<ClientStanding | undefined>;
  /** This instance changed the client's standing (a cache forgets what it held). */
  changed?(clientId: string): void;
}

export interface StandingCacheSettings {
  /** Longest an answer is served from memory; 0 asks the database on every request. */
  maxAgeMs: number;
  maxEntries: number;
}

interface Entry {
  clientId: string;
  standing: ClientStanding;
  epoch: number;
  generation: number;
}

/**
 * Whether a token is revoked and its client still enabled, remembered per token between
 * changes. It is trusted only while the change feed is listening: every change to a client
 * or a revocation arrives as that client's id (a trigger announces it, whoever makes it), and
 * bumps the client's generation, so nothing cached before it is served again. An answer read
 * from the database while a change arrived is used once and not kept. When the feed is down
 * nothing is cached: every request asks the database, as it would without the cache.
 */
export class StandingCache implements StandingSource {
  private readonly entries: LRUCache<string, Entry>;
  private readonly generations = new Map<string, number>();
  private epoch = 0;
  private trusted = false;

  constructor(
    private readonly source: StandingSource,
    private readonly settings: StandingCacheSettings,
  ) {
    this.entries = new LRUCache({ max: settings.maxEntries, ttl: Math.max(settings.maxAgeMs, 1) });
  }

  async standing(clientId: string, jti: string): Promise<ClientStanding | undefined> {
    if (!this.trusted || this.settings.maxAgeMs === 0) return this.source.standing(clientId, jti);
    const epoch = this.epoch;
    const generation = this.generationOf(clientId);
    const hit = this.entries.get(jti);
    if (hit && hit.clientId === clientId && hit.epoch === epoch && hit.generation === generation) return hit.standing;
    const standing = await this.source.standing(clientId, jti);
    if (standing && this.trusted && epoch === this.epoch && generation === this.generationOf(clientId)) {
      this.entries.set(jti, { clientId, standing, epoch, generation });
    }
    return standing;
  }

  /** The client's row changed or one of its tokens was revoked: its cached answers are void. */
  changed(clientId: string): void {
    this.generations.set(clientId, this.generationOf(clientId) + 1);
  }

  /** The change feed came up or went down: what was cached before cannot be trusted either way. */
  listening(up: boolean): void {
    this.epoch += 1;
    this.trusted = up;
    this.entries.clear();
    this.generations.clear();
  }

  get isTrusted(): boolean {
    return this.trusted && this.settings.maxAgeMs > 0;
  }

  private generationOf(clientId: string): number {
    return this.generations.get(clientId) ?? 0;
  }
}
