import crypto from 'node:crypto';
import { buildAad, encodeHeader, HEADER_BYTES, NONCE_BYTES, TAG_BYTES, parseCiphertext, type SealedKind } from './ciphertext-format';
import { fillPublicRandom } from './public-random';
import { asSealed, type Sealed } from './sealed';

const ALGORITHM = 'aes-256-gcm';
export const KEY_BYTES = 32;

/** GCM authentication failed: the ciphertext, its header or its bindings were changed. */
export class AuthenticationFailed extends Error {
  override name = 'AuthenticationFailed';
}

/**
 * Seals `plaintext` under `key` in the vault's ciphertext format with a fresh random nonce.
 * The caller is responsible for counting uses of `key` (random nonces are safe well below 2^32).
 */
export function sealWithKey(key: Buffer, kind: SealedKind, keyReference: number, bindings: readonly string[], plaintext: Buffer): Sealed {
  const header = encodeHeader(kind, keyReference);
  const out = Buffer.allocUnsafe(HEADER_BYTES + NONCE_BYTES + plaintext.length + TAG_BYTES);
  header.copy(out, 0);
  fillPublicRandom(out, HEADER_BYTES, NONCE_BYTES);
  const nonce = out.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES);
  const cipher = crypto.createCipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(buildAad(header, bindings));
  let offset = HEADER_BYTES + NONCE_BYTES;
  offset += cipher.update(plaintext).copy(out, offset);
  offset += cipher.final().copy(out, offset);
  cipher.getAuthTag().copy(out, offset);
  return asSealed(out);
}

/** Opens a ciphertext made by `sealWithKey`; throws AuthenticationFailed rather than return altered bytes. */
export function openWithKey(key: Buffer, sealed: Buffer, kind: SealedKind, bindings: readonly string[]): Buffer {
  const parts = parseCiphertext(sealed, kind);
  const decipher = crypto.createDecipheriv(ALGORITHM, key, parts.nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(buildAad(parts.header, bindings));
  decipher.setAuthTag(parts.tag);
  const head = decipher.update(parts.ciphertext);
  try {
    const tail = decipher.final();
    return tail.length === 0 ? head : Buffer.concat([head, tail]);
  } catch {
    // The unauthenticated output must not outlive the failure.
    head.fill(0);
    throw new AuthenticationFailed('ciphertext failed authentication');
  }
}
