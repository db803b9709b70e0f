import { BlindIndex } from '../../src/crypto/blind-index';
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

describe('blind-index keys loaded by a new instance', () => {
  it('are read once for all the requests that ask at the same time', async () => {
    const store = new BlindIndexKeyStore(vault.vault.db);
    const expected = (await new BlindIndex(vault.vault.keys, store).email('reload@example.com')).value;
    // A new instance has no keys yet: every first request asks for them.
    const index = new BlindIndex(vault.vault.keys, store);
    let reads = 0;
    const list = store.list.bind(store);
    store.list = () => {
      reads += 1;
      return list();
    };

    const values = await Promise.all(Array.from({ length: 8 }, () => index.email('reload@example.com')));

    expect(reads).toBe(1);
    for (const { value } of values) expect(value.equals(expected)).toBe(true);
  });
});
