import { VaultError } from '../errors/vault-error';
import { KeyProviderError } from './key-provider';

/** A ciphertext or wrapped key failed authentication or is malformed: never answered with plaintext. */
export const integrityError = (detail: string, cause?: unknown) =>
  new VaultError('integrity_error', 500, 'Stored data failed its integrity check', { detail, cause });

/**
 * The ciphertext names a subject-key version older than the subject's current one: a re-key
 * deleted it. A row read before the re-key committed and opened after it looks like this, and
 * read again holds the same values under the new version; a row that still names a deleted
 * version when read again is the integrity error it reports.
 */
export class RetiredKeyVersion extends VaultError {
  constructor() {
    super('integrity_error', 500, 'Stored data failed its integrity check', { detail: 'ciphertext names a subject-key version a re-key deleted' });
  }
}

export const kmsUnavailable = (detail: string, cause?: unknown) =>
  new VaultError('kms_unavailable', 503, 'The key provider is unavailable', { detail, cause, headers: { 'Retry-After': '5' } });

/**
 * The subject has no key: erased (crypto-shredded) or never created. To a caller that is a
 * subject that does not exist, and it is answered as one.
 */
export class SubjectKeyGone extends VaultError {
  constructor() {
    super('subject_not_found', 404, 'No such subject', { detail: 'the subject was erased (its key destroyed) or never created' });
  }
}

export const subjectKeyNotFound = () => new SubjectKeyGone();

/**
 * An opening failed because the subject's keys changed after its row was read: a re-key
 * deleted the version the row names, or an erasure destroyed the subject's key. Read again,
 * the row names the new version, or is gone.
 */
export function keysChangedSinceRead(error: unknown): boolean {
  return error instanceof RetiredKeyVersion || error instanceof SubjectKeyGone;
}

export const subjectKeyExists = () =>
  new VaultError('subject_key_exists', 409, 'The subject already has a key');

/**
 * The vault's error for a failed provider call; anything else (a database error) passes
 * through unchanged. Details name the failure class, never key material.
 */
export function fromProviderError(error: unknown, operation: string): unknown {
  if (!(error instanceof KeyProviderError)) return error;
  if (error.reason === 'invalid_ciphertext') return integrityError(`key provider rejected a wrapped key (${operation})`, error);
  return kmsUnavailable(`${operation}: ${error.message}`, error);
}
