import { startTestVault, type TestVault } from '../support/test-vault';
import { callerWith } from '../policy/support/principals';
import { accountService, auth, createSubject, mailer, SAMPLE, type Caller } from './support/data-callers';

let vault: TestVault;
let account: Caller;
let subjectId: string;
beforeAll(async () => {
  vault = await startTestVault();
  account = await accountService(vault);
  subjectId = (await createSubject(vault, account, SAMPLE)).id;
});
afterAll(() => vault.stop());

/** The trail's events for one answered request, by the vault's request id. */
const eventsOf = async (res: { headers: Record<string, string> }) =>
  (await vault.vault.db('audit_events').where({ request_id: res.headers['x-request-id'] }).orderBy('seq')).map((e) => [e.action, e.outcome, e.reason]);

describe('a caller refused for a missing scope on the subject and email routes', () => {
  it('is recorded once for each route of the account service the mailer tries', async () => {
    const mail = await mailer(vault, 'transactional_email');
    const attempts = [
      vault.get(`/v1/subjects/${subjectId}`),
      vault.get(`/v1/subjects/${subjectId}/export`),
      vault.put(`/v1/subjects/${subjectId}/preferences`).send({ newsletter: false }),
      vault.post('/v1/subjects/search').send({ email: SAMPLE.email }),
      vault.delete(`/v1/subjects/${subjectId}`),
      vault.post('/v1/subjects').send({ email: 'not.created@example.com' }),
    ];
    for (const attempt of attempts) {
      const res = await attempt.set('Authorization', auth(mail));
      expect([res.status, res.body.code]).toEqual([403, 'insufficient_scope']);
      expect(await eventsOf(res)).toEqual([['subjects.access', 'denied', 'insufficient_scope']]);
    }
    expect(await vault.vault.db('subjects').where({ id: subjectId }).first()).toMatchObject({ version: 1 });
  });

  it('is recorded once as the mailer\'s route, not again as a subject route', async () => {
    const reader = await callerWith(vault, { scopes: ['subjects:read'], purposes: ['transactional_email'] }, 'subjects:read', 'transactional_email');
    const one = await vault.get(`/v1/subjects/${subjectId}/email`).set('Authorization', auth(reader));
    const batch = await vault.post('/v1/emails/resolve').set('Authorization', auth(reader)).send({ subject_ids: [subjectId] });

    for (const res of [one, batch]) {
      expect([res.status, res.body.code]).toEqual([403, 'insufficient_scope']);
      expect(await eventsOf(res)).toEqual([['emails.access', 'denied', 'insufficient_scope']]);
    }
  });

  it('refused by the decision instead (consent without preferences:write) is recorded once, with the scope challenge', async () => {
    const writer = await callerWith(vault, { scopes: ['subjects:write'], purposes: ['account_management'] }, 'subjects:write', 'account_management');
    const { id, etag } = await createSubject(vault, account, { email: 'challenge@example.com' });

    const res = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(writer)).set('If-Match', etag).send({ preferences: { newsletter: false } });

    expect([res.status, res.body.code]).toEqual([403, 'insufficient_scope']);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="pdvault", error="insufficient_scope", scope="preferences:write"');
    // The write was decided first; the consent in it is what was refused, and so the write did not
    // happen: the trail says so after it. Not recorded a second time as subjects.access.
    expect(await eventsOf(res)).toEqual([
      ['subjects.update', 'allowed', null],
      ['preferences.write', 'denied', 'insufficient_scope'],
      ['subjects.update', 'denied', 'insufficient_scope'],
    ]);
  });
});

describe('a write its decision allowed and the vault then refused', () => {
  it('is recorded as not done, so the access log does not show a change that did not happen', async () => {
    const { id, etag } = await createSubject(vault, account, { email: 'stale.writer@example.com', name: 'First Name' });
    await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', etag).send({ name: 'Second Name' }).expect(200);

    const stale = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', etag).send({ name: 'Lost Name', preferences: { surveys: false } });

    expect([stale.status, stale.body.code]).toEqual([412, 'precondition_failed']);
    expect(await eventsOf(stale)).toEqual([
      ['subjects.update', 'allowed', null],
      ['preferences.write', 'allowed', null],
      ['subjects.update', 'denied', 'precondition_failed'],
      ['preferences.write', 'denied', 'precondition_failed'],
    ]);
    expect(await vault.vault.db('subjects').where({ id }).first()).toMatchObject({ version: 2 });
    const log = await vault.get(`/v1/subjects/${id}/export`).set('Authorization', auth(account)).expect(200);
    const updates = log.body.access_log.filter((entry: { action: string }) => entry.action === 'subjects.update').map((entry: { outcome: string; reason: string | null }) => [entry.outcome, entry.reason]);
    // Newest first: the refusal, the stale writer's decision, the change that landed.
    expect(updates).toEqual([
      ['denied', 'precondition_failed'],
      ['allowed', null],
      ['allowed', null],
    ]);
  });

  it('records a taken external_id as not done too', async () => {
    await createSubject(vault, account, { email: 'holder@example.com', external_id: 'acct-taken-1' });
    const { id, etag } = await createSubject(vault, account, { email: 'taker@example.com' });

    const res = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', etag).send({ external_id: 'acct-taken-1' });

    expect([res.status, res.body.code]).toEqual([409, 'external_id_taken']);
    expect((await eventsOf(res)).at(-1)).toEqual(['subjects.update', 'denied', 'external_id_taken']);
  });
});
