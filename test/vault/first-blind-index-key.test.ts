import { BlindIndexKeyStore } from '../../src/store/blind-index-keys';
import { startTestVault, type TestVault } from '../support/test-vault';

let vault: TestVault;
beforeAll(async () => {
  vault = await startTestVault();
});
afterAll(() => vault.stop());

describe('the first blind-index key', () => {
  it('is stored once when sessions race to make it, and none of them fails', async () => {
    const db = vault.vault.db;
    const store = new BlindIndexKeyStore(db);
    // A new vault makes its first key when the first write needs it; none has been made yet here.
    expect(await db('blind_index_keys').count({ n: '*' })).toEqual([{ n: '0' }]);
    const sealed = Buffer.from('not a real key: only the race is under test');

    // Several rounds, each on an empty table; six sessions insert at once in each.
    for (let round = 0; round < 30; round++) {
      const won = await Promise.all(Array.from({ length: 6 }, () => store.insertFirst(sealed as never)));
      expect(won.filter(Boolean)).toHaveLength(1);
      expect(await db('blind_index_keys').select('version', 'status')).toEqual([{ version: 1, status: 'active' }]);
      await db('blind_index_keys').delete();
    }
  });
});
