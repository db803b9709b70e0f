import { answersQueuedBehind, holdRowLocks } from '../support/row-lock';
import { startTestVault, type TestVault } from '../support/test-vault';
import type { Caller } from '../policy/support/principals';
import { emailsMismatching, insertSubjects, type BulkSubject } from './support/bulk-subjects';
import { bearer, keyAdmin, waitForJob } from './support/rotation-helpers';

jest.setTimeout(60_000);

describe('destroying a KEK generation retired by its wrap limit', () => {
  let vault: TestVault;
  let admin: Caller;
  let subjects: BulkSubject[];

  beforeAll(async () => {
    // 1,000 wraps per generation: the first is retired for new wraps part-way through the subjects below.
    vault = await startTestVault({ PDVAULT_KEK_MAX_WRAPS: '1000', PDVAULT_KEK_ROTATE_AFTER_WRAPS: '0', PDVAULT_ROTATION_POLL_MS: '100' });
    admin = await keyAdmin(vault);
    subjects = await insertSubjects(vault.vault, 1500, 500);
  });
  afterAll(() => vault?.stop());

  const destroy = (id: number) => vault.post(`/v1/admin/keys/kek-generations/${id}/destruction`).set('Authorization', bearer(admin));

  it('refuses with 409 while subject keys still reference the retired generation, and allows it once a KEK rotation re-wrapped them', async () => {
    const before = (await vault.get('/v1/admin/keys').set('Authorization', bearer(admin)).expect(200)).body;
    const retired = before.kek_generations.find((g: { status: string }) => g.status === 'retired');
    expect(retired.subject_keys).toBeGreaterThan(0);
    const refused = await destroy(retired.id).expect(409);
    expect(refused.body.code).toBe('kek_generation_in_use');
    expect(await vault.vault.db('kek_destructions').count('* as count').first()).toEqual({ count: '0' });

    const started = await vault.post('/v1/admin/keys/rotations').set('Authorization', bearer(admin)).send({ kind: 'kek' }).expect(202);
    expect(await waitForJob(vault, admin, started.body.job_id)).toEqual(expect.objectContaining({ state: 'succeeded', done: 1500 }));
    const after = (await vault.get('/v1/admin/keys').set('Authorization', bearer(admin)).expect(200)).body;
    expect(after.kek_generations.find((g: { id: number }) => g.id === retired.id)).toEqual(expect.objectContaining({ status: 'retired', subject_keys: 0, vault_secrets: 0 }));
    expect((await destroy(retired.id).expect(202)).body).toEqual(expect.objectContaining({ state: 'pending', kek_generation_id: retired.id }));
    const second = await keyAdmin(vault);
    await vault.post(`/v1/admin/keys/kek-generations/${retired.id}/destruction/approve`).set('Authorization', bearer(second)).expect(200);
    expect(await emailsMismatching(vault.vault, subjects)).toEqual([]);
    const audited = await vault.vault.db('audit_events').where('action', 'like', 'keys.kek.destroy.%').orderBy('seq').select('action', 'outcome', 'reason');
    expect(audited).toEqual([
      { action: 'keys.kek.destroy.request', outcome: 'denied', reason: 'kek_generation_in_use' },
      { action: 'keys.kek.destroy.request', outcome: 'allowed', reason: null },
      { action: 'keys.kek.destroy.approve', outcome: 'allowed', reason: null },
    ]);
  });

  it('answers an approval that lost the race to another 409 kek_generation_destroyed, and records it as not done', async () => {
    const started = await vault.post('/v1/admin/keys/rotations').set('Authorization', bearer(admin)).send({ kind: 'kek' }).expect(202);
    expect(await waitForJob(vault, admin, started.body.job_id)).toEqual(expect.objectContaining({ state: 'succeeded' }));
    const inventory = (await vault.get('/v1/admin/keys').set('Authorization', bearer(admin)).expect(200)).body;
    const retired = inventory.kek_generations.find((g: { status: string }) => g.status === 'retired');
    expect(retired).toEqual(expect.objectContaining({ subject_keys: 0, vault_secrets: 0 }));
    await destroy(retired.id).expect(202);
    const approvers = [await keyAdmin(vault), await keyAdmin(vault)];
    const before = Number((await vault.vault.db('audit_events').max('seq as seq').first())?.seq);
    // Both pass the checks before the transaction and queue on the generation's row.
    const lock = await holdRowLocks(vault.database.url, 'select 1 from kek_generations where id = $1 for update', [retired.id]);
    const answers = await answersQueuedBehind(lock, 2, () =>
      approvers.map((approver) => vault.post(`/v1/admin/keys/kek-generations/${retired.id}/destruction/approve`).set('Authorization', bearer(approver)).then((r) => r)),
    );
    expect(answers.map((a) => [a.status, a.body.code]).sort()).toEqual([[200, undefined], [409, 'kek_generation_destroyed']]);
    const audited = await vault.vault.db('audit_events').where('seq', '>', before).andWhere({ action: 'keys.kek.destroy.approve' }).orderBy('seq').select('outcome', 'reason');
    expect(audited).toEqual([
      { outcome: 'allowed', reason: null },
      { outcome: 'allowed', reason: null },
      { outcome: 'denied', reason: 'not_done:kek_generation_destroyed' },
    ]);
  });

  it('knows a generation only by its id as the vault writes it: 01 is no generation, as version 01 is no policy', async () => {
    for (const id of ['01', '+1', '1e0', '0']) {
      const res = await vault.post(`/v1/admin/keys/kek-generations/${id}/destruction`).set('Authorization', bearer(admin)).expect(404);
      expect(res.body.code).toBe('kek_generation_not_found');
    }
  });
});
