import type { Sealed } from '../../src/crypto/sealed';
import { CryptoTestBed } from './hierarchy-fixture';

let bed: CryptoTestBed;
beforeAll(async () => {
  bed = await CryptoTestBed.create();
});
afterEach(() => bed.emptyKeyTables());
afterAll(() => bed.close());

const generations = () => bed.db('kek_generations').select('id', 'state', 'wrap_count').orderBy('id');

describe('KEK generations', () => {
  it('persist how many keys each one wrapped', async () => {
    const keys = bed.hierarchy({ settings: { kekMaxWraps: 10 } });
    for (let i = 0; i < 4; i++) await keys.createSubjectKey(`sub_${i}`);
    await keys.sealSecret('audit_checkpoint_key', 'ack_1', Buffer.alloc(32, 1));
    expect(await generations()).toEqual([{ id: 1, state: 'active', wrap_count: '5' }]);
  });

  it('are retired for new wraps at the configured maximum, and a new one takes over', async () => {
    const keys = bed.hierarchy({ settings: { kekMaxWraps: 3 } });
    const sealed = new Map<string, Sealed>();
    for (let i = 0; i < 7; i++) {
      await keys.createSubjectKey(`sub_${i}`);
      sealed.set(`sub_${i}`, await keys.seal(`sub_${i}`, 'email', `user${i}@example.com`));
    }
    expect(await generations()).toEqual([
      { id: 1, state: 'retired', wrap_count: '3' },
      { id: 2, state: 'retired', wrap_count: '3' },
      { id: 3, state: 'active', wrap_count: '1' },
    ]);
    const wrappedBy = await bed.db('subject_keys').select('subject_id', 'kek_generation_id').orderBy('subject_id');
    expect(wrappedBy.map((row) => row.kek_generation_id)).toEqual([1, 1, 1, 2, 2, 2, 3]);

    // Keys wrapped by retired generations keep opening, also after a restart.
    const restarted = bed.hierarchy({ settings: { kekMaxWraps: 3 } });
    for (const [subject, value] of sealed) {
      expect((await restarted.open(subject, 'email', value)).toString()).toBe(`user${subject.slice(4)}@example.com`);
    }
  });

  it('never exceed the maximum when several vault instances wrap at once, and only one is ever active', async () => {
    const instances = [bed.hierarchy({ settings: { kekMaxWraps: 5 } }), bed.hierarchy({ settings: { kekMaxWraps: 5 } }), bed.hierarchy({ settings: { kekMaxWraps: 5 } })];
    await Promise.all(Array.from({ length: 30 }, (_, i) => instances[i % 3]!.createSubjectKey(`sub_${i}`)));
    const rows = await generations();
    expect(rows.filter((row) => row.state === 'active')).toHaveLength(1);
    for (const row of rows) expect(Number(row.wrap_count)).toBeLessThanOrEqual(5);
    const perGeneration = await bed.db('subject_keys').select('kek_generation_id').count<{ kek_generation_id: number; count: string }[]>('* as count').groupBy('kek_generation_id');
    for (const { kek_generation_id, count } of perGeneration) {
      const reserved = rows.find((row) => row.id === kek_generation_id)!.wrap_count;
      expect(Number(count)).toBeLessThanOrEqual(Number(reserved));
    }
    expect(perGeneration.reduce((sum, row) => sum + Number(row.count), 0)).toBe(30);
  });
});

describe('rotating the provider key', () => {
  it('re-wraps every KEK generation under the new master key, and everything still opens', async () => {
    const keyring = bed.localKeyring();
    const keys = bed.hierarchy({ provider: keyring, settings: { kekMaxWraps: 2 } });
    const sealed = new Map<string, Sealed>();
    for (let i = 0; i < 3; i++) {
      await keys.createSubjectKey(`sub_${i}`);
      sealed.set(`sub_${i}`, await keys.seal(`sub_${i}`, 'email', `user${i}@example.com`));
    }
    const secret = await keys.sealSecret('jwt_signing_key', 'key_1', Buffer.from('private'));
    const before = await bed.db('kek_generations').select('id', 'wrapped_key', 'provider_key_ref').orderBy('id');

    keyring.rotateMasterKey();
    expect(await keys.rewrapKekGenerations()).toBe(2);

    const after = await bed.db('kek_generations').select('id', 'wrapped_key', 'provider_key_ref').orderBy('id');
    expect(after.map((row) => row.provider_key_ref)).toEqual(['local:v2', 'local:v2']);
    after.forEach((row, i) => expect(row.wrapped_key.equals(before[i].wrapped_key)).toBe(false));
    const restarted = bed.hierarchy({ provider: keyring });
    for (const [subject, value] of sealed) expect((await restarted.open(subject, 'email', value)).toString()).toBe(`user${subject.slice(4)}@example.com`);
    expect((await restarted.openSecret('jwt_signing_key', 'key_1', secret)).toString()).toBe('private');
  });
});
