import crypto from 'node:crypto';

/**
 * Random bytes for values written out in clear — GCM nonces, record ids, token ids — copied
 * out of a block the generator fills in one call. OpenSSL 3.0 spends about 7 µs of CPU in
 * every RAND_bytes call whatever its length, and a subject's creation made six of them; a copy
 * out of the block costs a fraction of a microsecond. Node's own `randomUUID` keeps such a
 * block for the same reason.
 *
 * Keys never come from here: each key gets a buffer of its own straight from the generator,
 * so no key shares memory with values that are stored or shown. A byte of a block is handed
 * out once (the cursor only moves forward) and every refill is a new block.
 */
const BLOCK_BYTES = 4096;
/** Longer requests go to the generator directly: they are rare, and would drain a block at once. */
const MAX_FROM_BLOCK = 64;

let block = Buffer.alloc(0);
let used = 0;

/** Writes `length` fresh random bytes into `target` from `offset`. */
export function fillPublicRandom(target: Buffer, offset = 0, length = target.length - offset): void {
  if (length > MAX_FROM_BLOCK) {
    crypto.randomFillSync(target, offset, length);
    return;
  }
  if (used + length > block.length) {
    block = crypto.randomFillSync(Buffer.allocUnsafeSlow(BLOCK_BYTES));
    used = 0;
  }
  block.copy(target, offset, used, used + length);
  used += length;
}

/** `length` fresh random bytes in a buffer of their own. */
export function publicRandomBytes(length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  fillPublicRandom(bytes);
  return bytes;
}
