import type { KeyHierarchy } from '../../src/crypto/key-hierarchy';
import type { Sealed } from '../../src/crypto/sealed';
import { CryptoTestBed, errorCode } from './hierarchy-fixture';

let bed: CryptoTestBed;
let keys: KeyHierarchy;

/** A stand-in for the tables later issues add: personal values stored only as `Sealed`. */
async function storeValue(subjectId: string, field: string, value: Sealed): Promise<void> {
  await bed.db('sealed_values').insert({ subject_id: subjectId, field, value });
}
async function loadValue(subjectId: string, field: string): Promise<Sealed> {
  return (await bed.db('sealed_values').where({ subject_id: subjectId, field }).first()).value as Sealed;
}
/** A vault that starts afresh on the same database: nothing cached. */
const restarted = () => bed.hierarchy();

beforeAll(async () => {
  bed = await CryptoTestBed.create();
  await bed.db.schema.createTable('sealed_values', (table) => {
    table.text('subject_id');
    table.text('field');
    table.binary('value');
  });
  keys = bed.hierarchy();
  for (const subject of ['sub_a', 'sub_b']) {
    await keys.createSubjectKey(subject);
    await storeValue(subject, 'email', await keys.seal(subject, 'email', `${subject}@example.com`));
    await storeValue(subject, 'phone', await keys.seal(subject, 'phone', '+1 555 0100'));
  }
});
afterAll(() => bed.close());

describe('ciphertexts tampered with in the database', () => {
  it('open normally when untouched', async () => {
    expect((await restarted().open('sub_a', 'email', await loadValue('sub_a', 'email'))).toString()).toBe('sub_a@example.com');
  });

  it('fail with integrity_error when a byte of a stored value is changed', async () => {
    await bed.db.raw(`update sealed_values set value = set_byte(value, 20, get_byte(value, 20) # 1) where subject_id = 'sub_a' and field = 'email'`);
    expect(await errorCode(restarted().open('sub_a', 'email', await loadValue('sub_a', 'email')))).toBe('integrity_error');
  });

  it('fail with integrity_error when a stored value is copied over another subject\'s', async () => {
    await bed.db.raw(`update sealed_values set value = (select value from sealed_values where subject_id = 'sub_b' and field = 'phone') where subject_id = 'sub_a' and field = 'phone'`);
    expect(await errorCode(restarted().open('sub_a', 'phone', await loadValue('sub_a', 'phone')))).toBe('integrity_error');
  });

  it('fail with integrity_error when a wrapped subject key is changed', async () => {
    await bed.db.raw(`update subject_keys set wrapped_key = set_byte(wrapped_key, 30, get_byte(wrapped_key, 30) # 1) where subject_id = 'sub_b'`);
    expect(await errorCode(restarted().open('sub_b', 'email', await loadValue('sub_b', 'email')))).toBe('integrity_error');
  });

  it('fail with integrity_error when wrapped subject keys are swapped between subjects', async () => {
    const fresh = bed.hierarchy();
    await fresh.createSubjectKey('sub_c');
    await fresh.createSubjectKey('sub_d');
    const value = await fresh.seal('sub_c', 'email', 'c@example.com');
    await bed.db.raw(`update subject_keys set wrapped_key = (select wrapped_key from subject_keys where subject_id = 'sub_d') where subject_id = 'sub_c'`);
    expect(await errorCode(restarted().open('sub_c', 'email', value))).toBe('integrity_error');
  });

  it('fail with integrity_error when a subject key row is re-pointed at another KEK generation', async () => {
    const fresh = bed.hierarchy();
    await fresh.createSubjectKey('sub_e');
    const value = await fresh.seal('sub_e', 'email', 'e@example.com');
    await bed.db('kek_generations').insert({ id: 99, state: 'retired', provider: 'local', provider_key_ref: 'local:v1', wrapped_key: (await bed.db('kek_generations').where({ id: 1 }).first()).wrapped_key });
    await bed.db('subject_keys').where({ subject_id: 'sub_e' }).update({ kek_generation_id: 99 });
    expect(await errorCode(restarted().open('sub_e', 'email', value))).toBe('integrity_error');
  });

  it('fail with integrity_error when the wrapped KEK generation is changed', async () => {
    const value = await loadValue('sub_b', 'phone');
    await bed.db.raw(`update kek_generations set wrapped_key = set_byte(wrapped_key, 25, get_byte(wrapped_key, 25) # 1) where id = 1`);
    expect(await errorCode(restarted().open('sub_b', 'phone', value))).toBe('integrity_error');
  });
});
