import type { KeyHierarchy } from '../../src/crypto/key-hierarchy';
import { CryptoTestBed, errorCode } from './hierarchy-fixture';

let bed: CryptoTestBed;
let keys: KeyHierarchy;
beforeAll(async () => {
  bed = await CryptoTestBed.create();
  keys = bed.hierarchy();
});
afterAll(() => bed.close());

describe("subject keys in the caller's transaction", () => {
  it('can seal before the transaction that created the key commits, and open after', async () => {
    const sealed = await bed.db.transaction(async (trx) => {
      await keys.createSubjectKey('sub_tx', trx);
      return keys.seal('sub_tx', 'email', 'tx@example.com');
    });
    expect((await bed.hierarchy().open('sub_tx', 'email', sealed)).toString()).toBe('tx@example.com');
  });

  it('are forgotten when the transaction rolls back', async () => {
    await expect(
      bed.db.transaction(async (trx) => {
        await keys.createSubjectKey('sub_rolled_back', trx);
        throw new Error('the subject insert failed');
      }),
    ).rejects.toThrow('the subject insert failed');
    expect(await bed.db('subject_keys').where({ subject_id: 'sub_rolled_back' }).first()).toBeUndefined();
    expect(await errorCode(keys.seal('sub_rolled_back', 'email', 'x@example.com'))).toBe('subject_not_found');
  });

  it('are shredded by a destroy inside a transaction once it commits', async () => {
    await keys.createSubjectKey('sub_erase_tx');
    const sealed = await keys.seal('sub_erase_tx', 'email', 'e@example.com');
    await bed.db.transaction(async (trx) => {
      await keys.destroySubjectKey('sub_erase_tx', trx);
    });
    expect(await errorCode(keys.open('sub_erase_tx', 'email', sealed))).toBe('subject_not_found');
  });

  it('survive a destroy whose transaction rolls back', async () => {
    await keys.createSubjectKey('sub_kept');
    const sealed = await keys.seal('sub_kept', 'email', 'k@example.com');
    await expect(
      bed.db.transaction(async (trx) => {
        await keys.destroySubjectKey('sub_kept', trx);
        throw new Error('erasure aborted');
      }),
    ).rejects.toThrow('erasure aborted');
    expect((await keys.open('sub_kept', 'email', sealed)).toString()).toBe('k@example.com');
  });
});
