import { LRUCache } from 'lru-cache';
import { zeroSoon } from './zeroize';

/** One subject's unwrapped keys, by version, and the KEK generations they were unwrapped with. */
export interface SubjectKeys {
  current: number;
  keys: Map<number, Buffer>;
  kekGenerationIds: number[];
}

/**
 * Unwrapped subject keys, bounded by count (least recently used go first). Every buffer is
 * zeroed when its entry leaves the cache, whether evicted, replaced, deleted or cleared, at
 * the end of the event-loop turn: callers must use a key before they next wait for I/O.
 */
export class SubjectKeyCache {
  private readonly lru: LRUCache<string, SubjectKeys>;
  private holding = true;

  constructor(maxEntries: number) {
    this.lru = new LRUCache<string, SubjectKeys>({
      max: maxEntries,
      dispose: (entry) => zeroEntrySoon(entry),
    });
  }

  get(subjectId: string): SubjectKeys | undefined {
    return this.lru.get(subjectId);
  }

  set(subjectId: string, entry: SubjectKeys): void {
    if (this.holding) this.lru.set(subjectId, entry);
    else zeroEntrySoon(entry);
  }

  /**
   * Whether keys are kept once used. Off while nothing would announce that a key was destroyed
   * elsewhere (the change feed is down): everything held is dropped, and each key is then
   * unwrapped for its one use and zeroed, rather than outlive an erasure on another instance.
   */
  hold(holding: boolean): void {
    this.holding = holding;
    this.lru.clear();
  }

  delete(subjectId: string): void {
    this.lru.delete(subjectId);
  }

  clear(): void {
    this.lru.clear();
  }

  get size(): number {
    return this.lru.size;
  }

  get maxEntries(): number {
    return this.lru.max;
  }
}

export function zero(entry: SubjectKeys): void {
  for (const key of entry.keys.values()) key.fill(0);
}

export function zeroEntrySoon(entry: SubjectKeys): void {
  for (const key of entry.keys.values()) zeroSoon(key);
}
