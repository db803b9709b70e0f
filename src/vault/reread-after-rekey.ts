import { RetiredKeyVersion } from '../crypto/key-errors';

/**
 * `open` on what a read returned. A re-key that commits between the read and the opening
 * deletes the key version the values were sealed under, while the row now holds the same values
 * under the new one: the row is read again, once, and opened. Read again and still naming a
 * deleted version, it is the integrity error it reports.
 */
export async function openRereadingAfterRekey<R, T>(record: R, reread: () => Promise<R>, open: (record: R) => Promise<T>): Promise<T> {
  try {
    return await open(record);
  } catch (error) {
    if (!(error instanceof RetiredKeyVersion)) throw error;
    return open(await reread());
  }
}
