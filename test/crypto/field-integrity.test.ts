import { SealedKind } from '../../src/crypto/ciphertext-format';
import type { KeyHierarchy } from '../../src/crypto/key-hierarchy';
import { asSealed, type Sealed } from '../../src/crypto/sealed';
import { CryptoTestBed, errorCode } from './hierarchy-fixture';

let bed: CryptoTestBed;
let keys: KeyHierarchy;
let sealed: Sealed;
const EMAIL = 'jane.doe@example.com';

beforeAll(async () => {
  bed = await CryptoTestBed.create();
  keys = bed.hierarchy();
  await keys.createSubjectKey('sub_alice');
  await keys.createSubjectKey('sub_bob');
  sealed = await keys.seal('sub_alice', 'email', EMAIL);
});
afterAll(() => bed.close());

const mutated = (edit: (bytes: Buffer) => Buffer | void): Sealed => {
  const copy = Buffer.from(sealed);
  return asSealed(edit(copy) ?? copy);
};

describe('field values', () => {
  it('open to the value they were sealed from', async () => {
    expect((await keys.open('sub_alice', 'email', sealed)).toString('utf8')).toBe(EMAIL);
  });

  it('start with the format version, the field-value kind and the subject-key version', () => {
    expect(sealed[0]).toBe(0x01);
    expect(sealed[1]).toBe(SealedKind.FieldValue);
    expect(sealed.readUInt32BE(2)).toBe(1);
    expect(sealed.length).toBe(6 + 12 + Buffer.byteLength(EMAIL) + 16);
  });

  it('differ each time the same value is sealed', async () => {
    const again = await keys.seal('sub_alice', 'email', EMAIL);
    expect(again.equals(sealed)).toBe(false);
    expect(again.subarray(6, 18).equals(sealed.subarray(6, 18))).toBe(false);
  });

  it('fail with integrity_error when any byte is flipped, never with a wrong plaintext or a crash', async () => {
    for (let i = 0; i < sealed.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const tampered = mutated((b) => void (b[i]! ^= mask));
        expect([i, mask, await errorCode(keys.open('sub_alice', 'email', tampered))]).toEqual([i, mask, 'integrity_error']);
      }
    }
  });

  it('fail with integrity_error when truncated to any length, or extended', async () => {
    for (let length = 0; length < sealed.length; length++) {
      expect([length, await errorCode(keys.open('sub_alice', 'email', mutated((b) => b.subarray(0, length))))]).toEqual([length, 'integrity_error']);
    }
    expect(await errorCode(keys.open('sub_alice', 'email', mutated((b) => Buffer.concat([b, Buffer.from([0])]))))).toBe('integrity_error');
  });

  it('fail to open when copied to another subject', async () => {
    expect(await errorCode(keys.open('sub_bob', 'email', sealed))).toBe('integrity_error');
  });

  it('fail to open when copied to another field of the same subject', async () => {
    expect(await errorCode(keys.open('sub_alice', 'phone', sealed))).toBe('integrity_error');
  });

  it('fail to open when their key reference is changed', async () => {
    for (const version of [0, 2, 0x7fffffff, 0xffffffff]) {
      const relabelled = mutated((b) => void b.writeUInt32BE(version, 2));
      expect([version, await errorCode(keys.open('sub_alice', 'email', relabelled))]).toEqual([version, 'integrity_error']);
    }
  });

  it('fail to open when relabelled as another kind of ciphertext', async () => {
    const asSecret = mutated((b) => void (b[1] = SealedKind.VaultSecret));
    expect(await errorCode(keys.open('sub_alice', 'email', asSecret))).toBe('integrity_error');
    expect(await errorCode(keys.openSecret('sub_alice', 'email', asSecret))).toBe('integrity_error');
  });

  it('cannot be opened once the subject key is destroyed (crypto-shredding)', async () => {
    await keys.createSubjectKey('sub_erased');
    const value = await keys.seal('sub_erased', 'email', 'gone@example.com');
    await keys.destroySubjectKey('sub_erased');
    expect(await errorCode(keys.open('sub_erased', 'email', value))).toBe('subject_not_found');
    expect(await bed.db('subject_keys').where({ subject_id: 'sub_erased' }).count<{ count: string }[]>('* as count')).toEqual([{ count: '0' }]);
  });

  it('cannot be sealed for a subject without a key', async () => {
    expect(await errorCode(keys.seal('sub_nobody', 'email', 'x@example.com'))).toBe('subject_not_found');
  });

  it('refuses a second key for a subject that has one', async () => {
    expect(await errorCode(keys.createSubjectKey('sub_alice'))).toBe('subject_key_exists');
    expect((await keys.open('sub_alice', 'email', sealed)).toString('utf8')).toBe(EMAIL);
  });

  it('open after a restart, from the wrapped key in the database', async () => {
    const restarted = bed.hierarchy();
    expect((await restarted.open('sub_alice', 'email', sealed)).toString('utf8')).toBe(EMAIL);
  });
});

describe('vault secrets', () => {
  let secret: Sealed;
  const material = Buffer.from('-----BEGIN PRIVATE KEY----- not really', 'utf8');
  beforeAll(async () => {
    secret = await keys.sealSecret('jwt_signing_key', 'key_1', material);
  });

  it('open to what was sealed, under the same kind and id', async () => {
    expect((await keys.openSecret('jwt_signing_key', 'key_1', secret)).equals(material)).toBe(true);
    expect(secret[1]).toBe(SealedKind.VaultSecret);
  });

  it('fail to open under another id or another kind', async () => {
    expect(await errorCode(keys.openSecret('jwt_signing_key', 'key_2', secret))).toBe('integrity_error');
    expect(await errorCode(keys.openSecret('blind_index_key', 'key_1', secret))).toBe('integrity_error');
  });

  it('fail to open when any byte is flipped or the KEK generation reference changed', async () => {
    for (let i = 0; i < secret.length; i++) {
      const tampered = Buffer.from(secret);
      tampered[i]! ^= 0x01;
      expect([i, await errorCode(keys.openSecret('jwt_signing_key', 'key_1', asSealed(tampered)))]).toEqual([i, 'integrity_error']);
    }
    for (const generation of [0, 2, 0x80000000, 0xffffffff]) {
      const relabelled = Buffer.from(secret);
      relabelled.writeUInt32BE(generation, 2);
      expect([generation, await errorCode(keys.openSecret('jwt_signing_key', 'key_1', asSealed(relabelled)))]).toEqual([generation, 'integrity_error']);
    }
  });

  it('fail to open as a field value', async () => {
    expect(await errorCode(keys.open('sub_alice', 'email', secret))).toBe('integrity_error');
  });
});
