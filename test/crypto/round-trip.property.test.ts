import fc from 'fast-check';
import type { KeyHierarchy } from '../../src/crypto/key-hierarchy';
import { CryptoTestBed } from './hierarchy-fixture';

let bed: CryptoTestBed;
let keys: KeyHierarchy;
const SUBJECTS = ['sub_1', 'sub_2', 'sub_3'];

beforeAll(async () => {
  bed = await CryptoTestBed.create();
  keys = bed.hierarchy();
  for (const subject of SUBJECTS) await keys.createSubjectKey(subject);
});
afterAll(() => bed.close());

const subject = fc.constantFrom(...SUBJECTS);
const field = fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' });

describe('sealing round trips', () => {
  it('returns any unicode string sealed for any subject and field, byte for byte', async () => {
    await fc.assert(
      fc.asyncProperty(subject, field, fc.string({ unit: 'binary', maxLength: 300 }), async (subjectId, name, value) => {
        const sealed = await keys.seal(subjectId, name, value);
        expect((await keys.open(subjectId, name, sealed)).toString('utf8')).toBe(Buffer.from(value, 'utf8').toString('utf8'));
      }),
      { numRuns: 300 },
    );
  });

  it('returns any binary value, including empty and large ones', async () => {
    await fc.assert(
      fc.asyncProperty(subject, field, fc.uint8Array({ maxLength: 70_000 }), async (subjectId, name, bytes) => {
        const value = Buffer.from(bytes);
        const sealed = await keys.seal(subjectId, name, value);
        expect(sealed.length).toBe(value.length + 34);
        expect((await keys.open(subjectId, name, sealed)).equals(value)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('never opens a value under a different subject or field', async () => {
    await fc.assert(
      fc.asyncProperty(subject, subject, field, field, fc.string({ unit: 'binary' }), async (from, to, name, otherName, value) => {
        fc.pre(from !== to || name !== otherName);
        const sealed = await keys.seal(from, name, value);
        await expect(keys.open(to, otherName, sealed)).rejects.toMatchObject({ code: 'integrity_error' });
      }),
      { numRuns: 200 },
    );
  });

  it('returns any vault secret sealed under any kind and id', async () => {
    await fc.assert(
      fc.asyncProperty(field, field, fc.uint8Array({ maxLength: 4096 }), async (kind, id, bytes) => {
        const sealed = await keys.sealSecret(kind, id, Buffer.from(bytes));
        expect((await keys.openSecret(kind, id, sealed)).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('produces different ciphertexts for the same value every time', async () => {
    await fc.assert(
      fc.asyncProperty(subject, fc.string({ unit: 'binary' }), async (subjectId, value) => {
        const first = await keys.seal(subjectId, 'email', value);
        const second = await keys.seal(subjectId, 'email', value);
        expect(first.equals(second)).toBe(false);
      }),
      { numRuns: 100 },
    );
  });
});
