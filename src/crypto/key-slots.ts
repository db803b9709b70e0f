const KEY_BYTES = 32;
// A slot: the key, then its version and the KEK generation that unwrapped it (u32 each).
const SLOT_BYTES = KEY_BYTES + 8;
const SLOTS_PER_CHUNK = 4096;

/** A subject's key as a slot holds it: one version, unwrapped under one KEK generation. */
export interface SlotKey {
  key: Buffer;
  version: number;
  generationId: number;
}

/**
 * Subject keys in fixed slots of a few large zero-filled buffers, outside the JavaScript heap.
 * A key held as its own Buffer costs about 0.7 KB of heap and allocator memory (the buffer, its
 * backing store, a map and an entry), and a million of them are objects the garbage collector
 * walks; a slot costs 40 bytes and no object. Chunks are allocated as slots are first used, and
 * kept: the memory is the cache's bound, reached once.
 *
 * A released slot is zeroed and reused only after the current turn of the event loop, the same
 * rule as `zeroSoon`: a caller handed a view of it earlier in the turn finishes with it first.
 */
export class KeySlots {
  private readonly chunks: Buffer[] = [];
  private readonly free: number[] = [];
  private releasing: number[] = [];
  private used = 0;

  constructor(private readonly capacity: number) {}

  /** Copies the key into a free slot; undefined when every slot is taken or still being released. */
  store(key: Buffer, version: number, generationId: number): number | undefined {
    if (key.length !== KEY_BYTES || !isUint32(version) || !isUint32(generationId)) return undefined;
    const slot = this.take();
    if (slot === undefined) return undefined;
    const [chunk, offset] = this.locate(slot);
    key.copy(chunk, offset);
    chunk.writeUInt32LE(version, offset + KEY_BYTES);
    chunk.writeUInt32LE(generationId, offset + KEY_BYTES + 4);
    return slot;
  }

  /** The slot's key as a view of the slot (valid until the end of the turn it is released in), with its version and generation. */
  read(slot: number): SlotKey {
    const [chunk, offset] = this.locate(slot);
    return {
      key: chunk.subarray(offset, offset + KEY_BYTES),
      version: chunk.readUInt32LE(offset + KEY_BYTES),
      generationId: chunk.readUInt32LE(offset + KEY_BYTES + 4),
    };
  }

  generationOf(slot: number): number {
    const [chunk, offset] = this.locate(slot);
    return chunk.readUInt32LE(offset + KEY_BYTES + 4);
  }

  /** The slot is zeroed and freed after the current turn. */
  release(slot: number): void {
    if (this.releasing.length === 0) setImmediate(() => this.zeroReleased());
    this.releasing.push(slot);
  }

  private take(): number | undefined {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if (this.used >= this.capacity) return undefined;
    if (this.used % SLOTS_PER_CHUNK === 0) this.chunks.push(Buffer.alloc(SLOTS_PER_CHUNK * SLOT_BYTES));
    return this.used++;
  }

  private zeroReleased(): void {
    const released = this.releasing;
    this.releasing = [];
    for (const slot of released) {
      const [chunk, offset] = this.locate(slot);
      chunk.fill(0, offset, offset + SLOT_BYTES);
      this.free.push(slot);
    }
  }

  private locate(slot: number): [Buffer, number] {
    return [this.chunks[Math.floor(slot / SLOTS_PER_CHUNK)]!, (slot % SLOTS_PER_CHUNK) * SLOT_BYTES];
  }
}

function isUint32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}
