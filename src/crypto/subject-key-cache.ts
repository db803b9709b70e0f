import { LRUCache } from 'lru-cache';
import { KeySlots } from './key-slots';
import { zeroSoon } from './zeroize';

/** One subject's unwrapped keys, by version, and the KEK generations they were unwrapped with. */
export interface SubjectKeys {
  current: number;
  keys: Map<number, Buffer>;
  kekGenerationIds: number[];
}

// Beyond the bound, for entries evicted in a turn whose slots are not yet zeroed and free.
const RELEASE_SLACK = 16_384;

/**
 * Unwrapped subject keys, bounded by count (least recently used go first). Every key is zeroed
 * when its entry leaves the cache, whether evicted, replaced, deleted or cleared, at the end of
 * the event-loop turn: callers must use a key before they next wait for I/O.
 *
 * An entry as almost every subject has it (one key version, one KEK generation) is held in a
 * slot of `KeySlots`, off the heap, and the map holds only its number: a cache of a million
 * subjects is then about 120 MB rather than 700, and no garbage the collector walks. Other
 * entries (a subject mid re-key) are held as they are.
 */
export class SubjectKeyCache {
  private readonly lru: LRUCache<string, number | SubjectKeys>;
  private readonly slots: KeySlots;
  private holding = true;

  constructor(maxEntries: number) {
    this.slots = new KeySlots(maxEntries + Math.min(maxEntries, RELEASE_SLACK));
    this.lru = new LRUCache<string, number | SubjectKeys>({
      max: maxEntries,
      dispose: (held) => (typeof held === 'number' ? this.slots.release(held) : zeroEntrySoon(held)),
    });
  }

  /** The subject's keys; a key from a slot is a view of it, to be used within the current turn. */
  get(subjectId: string): SubjectKeys | undefined {
    const held = this.lru.get(subjectId);
    return typeof held === 'number' ? this.view(held) : held;
  }

  /** Whether the subject's keys are held, each unwrapped under a KEK generation `usable` accepts; no view is made. */
  holdsUsable(subjectId: string, usable: (generationId: number) => boolean): boolean {
    return this.heldUsable(subjectId, usable) !== undefined;
  }

  /** The subject's keys (as `get`) if each was unwrapped under a KEK generation `usable` accepts. */
  getUsable(subjectId: string, usable: (generationId: number) => boolean): SubjectKeys | undefined {
    const held = this.heldUsable(subjectId, usable);
    return typeof held === 'number' ? this.view(held) : held;
  }

  private heldUsable(subjectId: string, usable: (generationId: number) => boolean): number | SubjectKeys | undefined {
    const held = this.lru.get(subjectId);
    if (held === undefined) return undefined;
    const generations = typeof held === 'number' ? [this.slots.generationOf(held)] : held.kekGenerationIds;
    return generations.every(usable) ? held : undefined;
  }

  private view(slot: number): SubjectKeys {
    const { key, version, generationId } = this.slots.read(slot);
    return { current: version, keys: new Map([[version, key]]), kekGenerationIds: [generationId] };
  }

  /**
   * Takes the entry: it is held (a single key is copied into a slot and the entry's own buffer
   * zeroed at the end of the turn), or zeroed when nothing is being held.
   */
  set(subjectId: string, entry: SubjectKeys): void {
    if (!this.holding) {
      zeroEntrySoon(entry);
      return;
    }
    const slot = singleKeyOf(entry) ? this.slots.store(entry.keys.get(entry.current)!, entry.current, entry.kekGenerationIds[0]!) : undefined;
    if (slot === undefined) {
      this.lru.set(subjectId, entry);
      return;
    }
    zeroEntrySoon(entry);
    this.lru.set(subjectId, slot);
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

function singleKeyOf(entry: SubjectKeys): boolean {
  return entry.keys.size === 1 && entry.kekGenerationIds.length === 1 && entry.keys.has(entry.current);
}

export function zero(entry: SubjectKeys): void {
  for (const key of entry.keys.values()) key.fill(0);
}

export function zeroEntrySoon(entry: SubjectKeys): void {
  for (const key of entry.keys.values()) zeroSoon(key);
}
