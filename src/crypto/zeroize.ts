/**
 * Zeroes a key buffer once the current turn of the event loop is over. Code that obtained
 * the key and continues without waiting for I/O (promise continuations only) finishes with
 * it first, so eviction can never hand a half-finished seal an all-zero key.
 */
export function zeroSoon(buffer: Buffer): void {
  setImmediate(() => buffer.fill(0));
}
