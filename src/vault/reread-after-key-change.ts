import { keysChangedSinceRead } from '../crypto/key-errors';

/**
 * `open` on what a read returned. A re-key that commits between the read and the opening
 * deletes the key version the values were sealed under, while the row now holds the same values
 * under the new one; an erasure that commits there destroys the key, and the row is gone. The
 * row is read again, once: `reread` answers the re-keyed row, or the caller's 404 for a row
 * that is gone. A row read again that still cannot be opened reports what it reports.
 */
export async function openRereadingAfterKeyChange<R, T>(record: R, reread: () => Promise<R>, open: (record: R) => Promise<T>): Promise<T> {
  try {
    return await open(record);
  } catch (error) {
    if (!keysChangedSinceRead(error)) throw error;
    return open(await reread());
  }
}
