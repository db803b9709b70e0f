import { buildAad, encodeHeader, MalformedCiphertext, OVERHEAD_BYTES, parseCiphertext, SealedKind } from '../../src/crypto/ciphertext-format';

describe('ciphertext format version 1', () => {
  it('has an overhead of 34 bytes: 6 header, 12 nonce, 16 tag', () => {
    expect(OVERHEAD_BYTES).toBe(34);
  });

  it('encodes the version byte, the kind and a big-endian uint32 key reference', () => {
    expect([...encodeHeader(SealedKind.SubjectKey, 0x01020304)]).toEqual([0x01, 0x03, 0x01, 0x02, 0x03, 0x04]);
  });

  it('refuses a key reference that is not a uint32', () => {
    expect(() => encodeHeader(SealedKind.FieldValue, -1)).toThrow(RangeError);
    expect(() => encodeHeader(SealedKind.FieldValue, 2 ** 32)).toThrow(RangeError);
  });

  it('refuses a buffer shorter than the overhead, of an unknown version, or of another kind', () => {
    const valid = Buffer.concat([encodeHeader(SealedKind.FieldValue, 1), Buffer.alloc(28)]);
    expect(parseCiphertext(valid, SealedKind.FieldValue).keyReference).toBe(1);
    expect(() => parseCiphertext(valid.subarray(0, 33), SealedKind.FieldValue)).toThrow(MalformedCiphertext);
    expect(() => parseCiphertext(Buffer.concat([Buffer.from([0x02]), valid.subarray(1)]), SealedKind.FieldValue)).toThrow(MalformedCiphertext);
    expect(() => parseCiphertext(valid, SealedKind.VaultSecret)).toThrow(MalformedCiphertext);
  });

  it('length-prefixes AAD bindings, so ("ab", "c") and ("a", "bc") differ', () => {
    const header = encodeHeader(SealedKind.FieldValue, 1);
    expect(buildAad(header, ['ab', 'c']).equals(buildAad(header, ['a', 'bc']))).toBe(false);
    expect(buildAad(header, ['sub_1', 'email']).equals(buildAad(header, ['sub_1', 'email']))).toBe(true);
  });

  it('binds the whole header into the AAD', () => {
    expect(buildAad(encodeHeader(SealedKind.FieldValue, 1), ['s', 'f']).equals(buildAad(encodeHeader(SealedKind.FieldValue, 2), ['s', 'f']))).toBe(false);
    expect(buildAad(encodeHeader(SealedKind.FieldValue, 1), ['s', 'f']).equals(buildAad(encodeHeader(SealedKind.VaultSecret, 1), ['s', 'f']))).toBe(false);
  });
});
