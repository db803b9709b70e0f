/**
 * The vault's ciphertext layout, version 1 (docs/ciphertext-format.md says the same in prose).
 * All integers are big-endian.
 *
 *   offset  size  field
 *   0       1     format version (0x01)
 *   1       1     kind: 0x01 field value under a subject key
 *                       0x02 vault secret under a KEK generation
 *                       0x03 subject key wrapped by a KEK generation
 *                       0x04 data key wrapped by a local-keyring master key (development)
 *   2       4     key reference (uint32): the subject-key version (kind 0x01), the
 *                 KEK generation id (kinds 0x02 and 0x03) or the master-key version (0x04)
 *   6       12    nonce (96 random bits)
 *   18      n     AES-256-GCM ciphertext (n = plaintext length)
 *   18+n    16    GCM tag
 *
 * Additional authenticated data (never stored, rebuilt on open):
 *   "pdvault-aad" ‖ bytes 0..5 of the header ‖ for each binding: uint16 length ‖ UTF-8 bytes
 * with the bindings of each kind:
 *   field value:  subject id, field name
 *   vault secret: secret kind, secret id
 *   subject key:  subject id
 *   local wrap:   the encryption context, sorted by key, as key, value, key, value...
 * So a value copied to another subject, field or secret, or re-labelled with another key
 * reference or kind, fails GCM authentication instead of opening.
 */

export const FORMAT_VERSION = 0x01;

export enum SealedKind {
  FieldValue = 0x01,
  VaultSecret = 0x02,
  SubjectKey = 0x03,
  LocalDataKey = 0x04,
}

export const HEADER_BYTES = 6;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const OVERHEAD_BYTES = HEADER_BYTES + NONCE_BYTES + TAG_BYTES;
export const MAX_KEY_REFERENCE = 0xffff_ffff;
const AAD_LABEL = Buffer.from('pdvault-aad', 'ascii');
const MAX_BINDING_BYTES = 0xffff;

export interface ParsedCiphertext {
  kind: SealedKind;
  keyReference: number;
  header: Buffer;
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

/** Why a buffer is not a well-formed ciphertext; never includes any of its bytes. */
export class MalformedCiphertext extends Error {
  override name = 'MalformedCiphertext';
}

export function encodeHeader(kind: SealedKind, keyReference: number): Buffer {
  if (!Number.isInteger(keyReference) || keyReference < 0 || keyReference > MAX_KEY_REFERENCE) {
    throw new RangeError('key reference must be a uint32');
  }
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header[0] = FORMAT_VERSION;
  header[1] = kind;
  header.writeUInt32BE(keyReference, 2);
  return header;
}

/** Splits a ciphertext into its parts without copying; checks layout only, not authenticity. */
export function parseCiphertext(bytes: Buffer, expectedKind: SealedKind): ParsedCiphertext {
  if (bytes.length < OVERHEAD_BYTES) throw new MalformedCiphertext('ciphertext shorter than the format overhead');
  if (bytes[0] !== FORMAT_VERSION) throw new MalformedCiphertext('unknown ciphertext format version');
  if (bytes[1] !== expectedKind) throw new MalformedCiphertext('ciphertext is of another kind');
  const tagStart = bytes.length - TAG_BYTES;
  return {
    kind: expectedKind,
    keyReference: bytes.readUInt32BE(2),
    header: bytes.subarray(0, HEADER_BYTES),
    nonce: bytes.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES),
    ciphertext: bytes.subarray(HEADER_BYTES + NONCE_BYTES, tagStart),
    tag: bytes.subarray(tagStart),
  };
}

/** The AAD for a header and its bindings; length prefixes keep ("ab","c") apart from ("a","bc"). */
export function buildAad(header: Buffer, bindings: readonly string[]): Buffer {
  const encoded = bindings.map((binding) => Buffer.from(binding, 'utf8'));
  let length = AAD_LABEL.length + header.length;
  for (const part of encoded) {
    if (part.length > MAX_BINDING_BYTES) throw new RangeError('an AAD binding is longer than 65535 bytes');
    length += 2 + part.length;
  }
  const aad = Buffer.allocUnsafe(length);
  let offset = AAD_LABEL.copy(aad, 0);
  offset += header.copy(aad, offset);
  for (const part of encoded) {
    offset = aad.writeUInt16BE(part.length, offset);
    offset += part.copy(aad, offset);
  }
  return aad;
}
