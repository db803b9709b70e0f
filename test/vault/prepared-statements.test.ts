import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, auth, createSubject, mailer, SAMPLE, type Caller } from './support/data-callers';

let vault: TestVault;
let account: Caller;
beforeAll(async () => {
  vault = await startTestVault();
  account = await accountService(vault);
});
afterAll(() => vault.stop());

describe('statements each pooled session keeps prepared', () => {
  it('keep working after a migration adds a column to subjects', async () => {
    const transactional = await mailer(vault, 'transactional_email');
    // Every session of the small test pool prepares the creation, the reads and the audit append.
    for (let i = 0; i < 8; i++) {
      const { id } = await createSubject(vault, account, { ...SAMPLE, email: `before${i}@example.com` });
      await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(account)).expect(200);
      await vault.get(`/v1/subjects/${id}/email`).set('Authorization', auth(transactional)).expect(200);
    }
    await vault.vault.db.raw('alter table subjects add column later_column text');
    try {
      for (let i = 0; i < 8; i++) {
        const created = await vault.post('/v1/subjects').set('Authorization', auth(account)).send({ ...SAMPLE, email: `after${i}@example.com` }).expect(201);
        await vault.get(`/v1/subjects/${created.body.id}`).set('Authorization', auth(account)).expect(200);
        await vault.get(`/v1/subjects/${created.body.id}/email`).set('Authorization', auth(transactional)).expect(200, { subject_id: created.body.id, email: `after${i}@example.com` });
      }
    } finally {
      await vault.vault.db.raw('alter table subjects drop column later_column');
    }
  });
});
