import { startSecondInstance } from '../identity/support/identity-helpers';
import { holdRowLocks } from '../support/row-lock';
import { startTestVault, type TestVault } from '../support/test-vault';
import type { Caller } from '../policy/support/principals';
import { accountService, bearer, keyAdmin, VISA, waitForJob } from './support/rotation-helpers';

let vault: TestVault;
let account: Caller;
beforeAll(async () => {
  // Rotations run at once and retire the old blind-index key without waiting out other instances.
  vault = await startTestVault({ PDVAULT_ROTATION_POLL_MS: '100', PDVAULT_BLIND_INDEX_RETIRE_GRACE_MS: '0' });
  account = await accountService(vault);
});
afterAll(() => vault.stop());

// The second instance takes no part in rotations: re-indexing would load the new key on it.
const withoutRotationWorkers = (config: TestVault['config']) => {
  config.rotation.workers = 0;
};

describe('an instance that has not yet loaded the blind-index key another instance rotated to', () => {
  it('finds a card the subject holds, re-indexed under the new key, and does not store it twice', async () => {
    const second = await startSecondInstance(vault, withoutRotationWorkers);
    try {
      const subject = await vault.post('/v1/subjects').set('Authorization', bearer(account)).send({ name: 'Card Holder' }).expect(201);
      const addOnSecond = () => second.call('post', `/v1/subjects/${subject.body.id}/payment-methods`).set('Authorization', bearer(account)).send(VISA);
      // The second instance loads the index keys as they are now, and keeps them for its refresh interval.
      const first = await addOnSecond().expect(201);
      const admin = await keyAdmin(vault);
      const job = await vault.post('/v1/admin/keys/rotations').set('Authorization', bearer(admin)).send({ kind: 'blind_index' }).expect(202);
      expect((await waitForJob(vault, admin, job.body.job_id)).state).toBe('succeeded');

      const again = await addOnSecond();

      expect([again.status, again.body.token]).toEqual([200, first.body.token]);
      const cards = await vault.vault.db('payment_methods').where({ subject_id: subject.body.id });
      expect(cards.map((card) => [card.token, card.fingerprint_version])).toEqual([[first.body.token, 2]]);
    } finally {
      await second.stop();
    }
  });
});

describe('a search on an instance that has not yet loaded the key another instance re-indexed to', () => {
  it('finds the subject, moved to the new key', async () => {
    const second = await startSecondInstance(vault, withoutRotationWorkers);
    try {
      const email = 'moved.by.another@example.com';
      const subject = await vault.post('/v1/subjects').set('Authorization', bearer(account)).send({ email }).expect(201);
      const search = () => second.call('post', '/v1/subjects/search').set('Authorization', bearer(account)).send({ email }).expect(200);
      // The second instance loads the index keys as they are now, and keeps them for its refresh interval.
      expect((await search()).body.subjects).toEqual([{ id: subject.body.id }]);
      const admin = await keyAdmin(vault);
      const job = await vault.post('/v1/admin/keys/rotations').set('Authorization', bearer(admin)).send({ kind: 'blind_index' }).expect(202);
      expect((await waitForJob(vault, admin, job.body.job_id)).state).toBe('succeeded');

      expect((await search()).body.subjects).toEqual([{ id: subject.body.id }]);
    } finally {
      await second.stop();
    }
  });
});

describe('a subject written under the old blind-index key while the rotation retires it', () => {
  it('is re-indexed before the job ends, so a search still finds it', async () => {
    const second = await startSecondInstance(vault, withoutRotationWorkers);
    const locks: Array<Awaited<ReturnType<typeof holdRowLocks>>> = [];
    try {
      // The second instance loads the index keys as they are now, and keeps them for its refresh interval.
      const warm = await second.call('post', '/v1/subjects').set('Authorization', bearer(account)).send({ email: 'warm.up@example.com' }).expect(201);
      const [old] = await vault.vault.db('blind_index_keys').where({ status: 'active' }).pluck('version');
      // The job cannot re-index this subject while it is locked (it skips locked rows), so it cannot finish.
      const held = await holdRowLocks(vault.config.database.url!, 'select 1 from subjects where id = $1 for update', [warm.body.id]);
      locks.push(held);
      const admin = await keyAdmin(vault);
      const job = await vault.post('/v1/admin/keys/rotations').set('Authorization', bearer(admin)).send({ kind: 'blind_index' }).expect(202);
      // The retirement (an update of the old key's row) waits on this lock; nothing else the test does takes it.
      const retirement = await holdRowLocks(vault.config.database.url!, 'select 1 from blind_index_keys where version = $1 for no key update', [old]);
      locks.push(retirement);
      await held.release();
      await retirement.waitForWaiters(1);

      // Counted none left, about to retire: a write indexed under the old key by the instance that has not reloaded.
      const late = await second.call('post', '/v1/subjects').set('Authorization', bearer(account)).send({ email: 'late.writer@example.com' }).expect(201);
      expect(await vault.vault.db('subjects').where({ id: late.body.id }).first()).toMatchObject({ email_index_version: old });
      await retirement.release();
      expect((await waitForJob(vault, admin, job.body.job_id)).state).toBe('succeeded');

      const found = await vault.post('/v1/subjects/search').set('Authorization', bearer(account)).send({ email: 'late.writer@example.com' }).expect(200);
      expect(found.body.subjects).toEqual([{ id: late.body.id }]);
    } finally {
      for (const lock of locks) await lock.release().catch(() => undefined);
      await second.stop();
    }
  });
});
