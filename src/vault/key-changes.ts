import { keysChangedSinceRead } from '../crypto/key-errors';
import { VaultError } from '../errors/vault-error';

/**
 * A subject's keys can change between two steps of one request: a re-key (here or on another
 * instance) deletes the key version a row was sealed under, an erasure destroys the key. These
 * are the two ways a request recovers.
 */

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

/** Values sealed before the write's transaction are not under the subject's current key version. */
export class SealedUnderRetiredKey extends VaultError {
  constructor(headers?: Record<string, string>) {
    super('subject_rekeyed', 409, 'The subject was re-keyed during the write; send it again', { headers });
  }
}

/**
 * A write that seals before its transaction and checks, under the subject's row lock, that what
 * it sealed is under the current key version (`KeyHierarchy.sealedUnderCurrentKey`, which drops
 * the stale keys when it is not). Overtaken by a re-key, it seals and writes once more; a
 * second re-key inside that window answers 409 `subject_rekeyed`.
 */
export async function writeOnceMoreAfterRekey<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!(error instanceof SealedUnderRetiredKey)) throw error;
    return write();
  }
}

/** The blind-index keys changed again each time a write reloaded them: rotations one after another. */
export function indexKeysKeptChanging(): VaultError {
  return new VaultError('key_contention', 503, 'The lookup keys changed while the write was made; send it again', { headers: { 'Retry-After': '1' } });
}
