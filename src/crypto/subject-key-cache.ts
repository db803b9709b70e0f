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
    this.lru.set(subjectId, entry);
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
